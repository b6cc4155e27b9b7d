"""Use cases: accounts, networks, instances, appliance services, appliances, apply/destroy,
and the reconcile worker. This layer owns transactions and the allocation lock."""
