"""The floor's echo server: for every `req` bytes read, answers `resp` bytes.

    python3 echo.py PORT REQ RESP PIDFILE
"""
import asyncio
import os
import sys

PORT, REQ, RESP, PIDFILE = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
PAYLOAD = b"x" * RESP


async def handle(reader, writer):
    try:
        while True:
            await reader.readexactly(REQ)
            writer.write(PAYLOAD)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT, backlog=1024)
    with open(PIDFILE, "w") as f:
        f.write(str(os.getpid()) + "\n")
    async with server:
        await server.serve_forever()


asyncio.run(main())
