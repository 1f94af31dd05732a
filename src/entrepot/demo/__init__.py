"""Demo content for `entrepot demo`: enterprises, users of every role, waiting requests."""

from entrepot.demo.seed import DEMO_PASSWORD, DemoUser, seed

__all__ = ["DEMO_PASSWORD", "DemoUser", "seed"]
