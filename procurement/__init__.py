"""The domain hub: tables, database, imports, demand, scenarios and reports."""
