"""Use cases: accounts, networks, instances, appliance services, appliances, apply/destroy,
and the controller, reached through the Kicker protocol (context.py). This layer owns transactions and the allocation lock."""
