"""Loading landed feeds into the warehouse, with every row accounted for.

A load looks at a feed's landed files (all of them, or the files of some months), skips the files
whose content and feed contract are unchanged since they were loaded, rejects whole files that cannot be read as the
contract says, and splits the rows of the others into loaded rows (`raw.<feed>`) and quarantined
rows (`quarantine.<feed>`: line, raw values, rule, reason). One transaction then replaces each
changed file's earlier rows and records every file in `audit.file_loads`.

Modules, by concern:
  landing         where a feed's files are, the month a path names, hashes (also read by the sensor
                  and the partitions)
  sniffing        whole-file problems found from a few bytes and the header, before any row is read
  formats         each file format of a tabular feed (CSV, gzip CSV, Parquet): its sniffing, its
                  reader; the problems that reject a whole file
  staged          the temp tables a reader leaves for the commit
  tabular         tabular feeds: one scan of all of a load's files per reader, every rule a flag,
                  then a detailed read of only the files with rows to quarantine
  ministry_table  the reader of the ministry's formatted tables
  records         a staged file read back: hashed again (a file rewritten while read is not loaded)
                  and, for CSV, its records counted from its bytes against the rows the reader returned
  commit          the transaction that replaces a load's files, and the load audit
  load            a feed's load: which files, what happened to each

The work is SQL in DuckDB; file names and values reach it only as bound parameters.
"""
