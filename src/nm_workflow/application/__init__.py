"""Use cases: load an aggregate, check actor and policy, call the domain, save."""
