"""The benches' RTMP ingest: nginx with the RTMP module on a free loopback port, no recording."""
import os
import socket
import subprocess


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(work, port=None):
    """Starts nginx-rtmp with its files in `work` (on `port`, or a free one); returns (the process,
    its RTMP port)."""
    port = port or free_port()
    # nginx's workers would run as nobody when we are root.
    user = "user root;" if os.geteuid() == 0 else ""
    with open(f"{work}/nginx.conf", "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
{user} worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
rtmp {{ server {{ listen 127.0.0.1:{port}; application app {{ live on; }} }} }}
""")
    return subprocess.Popen(["nginx", "-c", f"{work}/nginx.conf", "-p", work]), port
