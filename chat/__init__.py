"""Marea's reference workload: a real-time chat (python-socketio on Redis) scaled on connections per task."""
