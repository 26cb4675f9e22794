"""The dbt project as Sluice sees it: layers, lake tables, windows, deadlines; dbt in-process."""
