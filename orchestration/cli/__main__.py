from orchestration.cli.commands import main

main()
