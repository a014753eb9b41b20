"""The local API server takes a till's burst of connections: 20 sales sent at once had some of
their connections reset by `make run` (socketserver's listen backlog of 5), while AWS's gateway
queues them."""

from __future__ import annotations

import http.server
import socket

from chalice.local import ThreadedHTTPServer

from chalicelib.local.stack import local_http_server

BURST = 50


def _connected_before_any_accept(server_cls) -> int:
    """Connections completed while the server has not accepted one yet: what its listen queue holds."""
    server = server_cls(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    sockets = []
    try:
        connected = 0
        for _ in range(BURST):
            client = socket.socket()
            client.settimeout(0.3)
            sockets.append(client)
            try:
                client.connect(server.server_address)
                connected += 1
            except OSError:  # the SYN was dropped: the queue is full
                break
        return connected
    finally:
        for client in sockets:
            client.close()
        server.server_close()


def test_a_burst_of_connections_waits_in_the_listen_queue_instead_of_failing():
    assert _connected_before_any_accept(local_http_server()) == BURST
    # what chalice's server alone does (the reason for the class): the queue holds a handful
    assert _connected_before_any_accept(ThreadedHTTPServer) < BURST
