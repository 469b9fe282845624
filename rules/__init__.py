"""The advisor's rules, as YAML data files; installed as the package `advisor.rules`."""
