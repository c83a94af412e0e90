"""Feed contracts: the model the code reads (`model`), the specification of `sources/contracts.yml`
it is parsed from (`spec`), the rule vocabulary (`rules`) and the files rendered from them
(`rendering`). The model and `load_contracts` are what the rest of the code imports from here.
"""

from orchestration.contracts.model import SOURCE_FILE, TABLE_FORMATS, ColumnContract, ContractError, Contracts, FeedContract, dbt_source_name, is_monthly
from orchestration.contracts.spec import load_contracts

__all__ = ["SOURCE_FILE", "TABLE_FORMATS", "ColumnContract", "ContractError", "Contracts", "FeedContract", "dbt_source_name", "is_monthly", "load_contracts"]
