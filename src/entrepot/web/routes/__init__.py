"""Thin routes: parse the request, call a query or an action, render or serialise the answer."""
