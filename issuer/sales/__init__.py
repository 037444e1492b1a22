"""Selling passes: orders, the payment providers that take and give back the money, and
applications for free passes and reduced fares."""
