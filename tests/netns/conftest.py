"""Fixtures that files of the netns tier share: a login environment
(`env`, `make_env`) and the host's end of the push handoff
(`host_socket`), defined beside LoginEnv in test_login.py."""
from test_login import env, host_socket, make_env

__all__ = ["env", "host_socket", "make_env"]
