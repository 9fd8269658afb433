# The memory attack of issue 13, measured: rooms whose chat history is full and host sockets
# that join and never read (TCP receive buffer 4 KiB). Prints the server's RSS before and after.
# Needs Python 3 and `pip install websockets`.
# Usage: never-read.py http://127.0.0.1:PORT SERVER_PID SOCKETS_PER_ROOM ROOMS
import asyncio, json, socket, sys, urllib.request, websockets
BASE, PID, PER_ROOM, ROOMS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
HOST, PORT = BASE.split('//')[1].split(':'); PORT = int(PORT)

def rss_mb():
    for l in open(f'/proc/{PID}/status'):
        if l.startswith('VmRSS'):
            return int(l.split()[1]) / 1024

def create():
    req = urllib.request.Request(BASE + '/api/rooms', data=b'{"kind":"meeting"}',
                                 headers={'content-type': 'application/json'})
    r = json.load(urllib.request.urlopen(req))
    return r['id'], r['host_url'].split('#k=')[1]

async def connect(small=False):
    s = socket.socket()
    if small:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, PORT)); s.setblocking(False)
    return await websockets.connect(f'ws://{HOST}:{PORT}/ws', sock=s, max_queue=1, max_size=None)

async def join(ws, room, secret, name):
    await ws.send(json.dumps({'type': 'join', 'v': 1, 'room': room, 'secret': secret, 'name': name}))

async def main():
    print(f'server RSS before: {rss_mb():.1f} MB')
    stuck, refused = [], 0
    for r in range(ROOMS):
        room, secret = create()
        # Fill the chat: 5 people x 5 messages of 1,000 four-byte characters.
        for i in range(5):
            ws = await connect()
            await join(ws, room, secret, f'filler{r}-{i}')
            for _ in range(5):
                await ws.send(json.dumps({'type': 'chat', 'text': '😀' * 1000}))
            await asyncio.sleep(0.2)
            await ws.send(json.dumps({'type': 'leave'}))
            ws.transport.abort()
        for i in range(PER_ROOM):
            ws = await connect(small=True)
            await join(ws, room, secret, f'h{r}-{i}')
            stuck.append(ws)
    await asyncio.sleep(5)
    metrics = urllib.request.urlopen(BASE + '/metrics').read().decode()
    present = [l for l in metrics.splitlines() if l.startswith('aula_participants_present ')][0]
    print(f'{len(stuck)} host sockets that never read in {ROOMS} rooms ({present}): '
          f'server RSS {rss_mb():.1f} MB')

asyncio.run(main())
