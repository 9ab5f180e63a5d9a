// The reference the benchmark holds Marea's chat against: the classic Node.js socket.io chat on Redis
// (socket.io + @socket.io/redis-adapter + node-redis), speaking the same protocol subset as chat/ and doing
// the same work per message: check the input, HTML-escape it, append it to the room's history in Redis
// (RPUSH + LTRIM in MULTI), and emit it to the room on every instance. Presence and typing are not part of
// the measured path and are left out. bench/chat/chat_throughput.py installs the npm packages into a
// temporary folder, copies this file there and runs it: PORT, REDIS_URL, CHAT_ROOMS (a JSON list).
"use strict";

const { createServer } = require("node:http");
const { randomBytes } = require("node:crypto");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const HISTORY_SIZE = 50;
const MAX_MESSAGE_CHARS = 1000;
const MAX_NICK_CHARS = 24;
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

async function main() {
  const port = Number(process.env.PORT);
  const rooms = new Set(JSON.parse(process.env.CHAT_ROOMS));
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  const store = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect(), store.connect()]);

  const http = createServer((req, res) => {
    res.writeHead(req.url === "/healthz" ? 200 : 404, { "content-type": "text/plain" });
    res.end(req.url === "/healthz" ? "ok" : "not found");
  });
  const io = new Server(http, { adapter: createAdapter(pub, sub), maxHttpBufferSize: 64 * 1024 });

  io.on("connection", (socket) => {
    const refuse = (event, code, message) => socket.emit("error", { code, message, event });
    socket.emit("welcome", {
      rooms: [...rooms], default_room: [...rooms][0], max_message_chars: MAX_MESSAGE_CHARS, max_nick_chars: MAX_NICK_CHARS,
    });

    socket.on("join", async (data) => {
      const room = data && data.room;
      const nick = data && typeof data.nick === "string" ? data.nick.trim() : "";
      if (!rooms.has(room)) return refuse("join", "unknown_room", "unknown room");
      if (!nick || nick.length > MAX_NICK_CHARS) return refuse("join", "bad_nick", "bad nick");
      if (socket.data.room && socket.data.room !== room) socket.leave(socket.data.room);
      socket.data.room = room;
      socket.data.nick = escapeHtml(nick);
      socket.join(room);
      const raw = await store.lRange(`chat:history:${room}`, 0, -1);
      socket.emit("history", { room, messages: raw.map((item) => JSON.parse(item)) });
    });

    socket.on("message", async (data) => {
      const room = data && data.room;
      const text = data && typeof data.text === "string" ? data.text : null;
      if (text === null) return refuse("message", "bad_request", "text must be a string");
      if (text.length > MAX_MESSAGE_CHARS) return refuse("message", "message_too_long", "too long");
      if (!socket.data.room) return refuse("message", "not_joined", "join a room first");
      if (room !== socket.data.room) return refuse("message", "not_in_room", "not in that room");
      const trimmed = text.trim();
      if (!trimmed) return refuse("message", "empty_message", "empty");
      const message = {
        id: randomBytes(8).toString("hex"), room, nick: socket.data.nick, text: escapeHtml(trimmed), ts: Date.now(),
      };
      const key = `chat:history:${room}`;
      try {
        await store.multi().rPush(key, JSON.stringify(message)).lTrim(key, -HISTORY_SIZE, -1).exec();
      } catch (error) {
        return refuse("message", "unavailable", String(error));
      }
      io.to(room).emit("message", message);
    });
  });

  http.listen(port, "127.0.0.1");
  const stop = () => io.close(() => Promise.all([pub.quit(), sub.quit(), store.quit()]).finally(() => process.exit(0)));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
