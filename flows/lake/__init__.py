"""The lake: hive-partitioned lake days in a folder or a Cloud Storage bucket, their rules, and
reading their files."""
