"""Serve a baseline the way `nm-workflow serve` serves the service (same socket, same uvicorn settings).

python -m bench.serve {trivial,plain} --port 8001 [--workers 2]
"""

from __future__ import annotations

import argparse

from nm_workflow.interface.serving import serve

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", choices=["trivial", "plain"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    serve(f"bench.baselines:{args.app}_app", host="127.0.0.1", port=args.port, workers=args.workers)
