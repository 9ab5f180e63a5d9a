// The Marea chat page. Plain JavaScript and the official socket.io client (served from npm's node_modules).
// The server HTML-escapes every nick and text; the page decodes them in an inert document and only ever
// puts them into the DOM as text, so markup from another user is shown, never run.
(() => {
  "use strict";

  const TYPING_SEND_EVERY_MS = 2000; // the server rate-limits control events; this stays well below it
  const TYPING_IDLE_MS = 3000;
  const TYPING_SHOWN_MS = 5000;
  const NICK_KEY = "marea-chat-nick";
  const ROOM_KEY = "marea-chat-room";

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"), fatal: $("fatal"), me: $("me"), changeNick: $("change-nick"),
    rooms: $("rooms"), presence: $("presence"), onlineCount: $("online-count"), roomTitle: $("room-title"),
    messages: $("messages"), typing: $("typing"), composer: $("composer"), text: $("text"), send: $("send"),
    counter: $("counter"), overlay: $("nick-overlay"), nickForm: $("nick-form"), nick: $("nick"),
    roomSelect: $("room-select"), nickError: $("nick-error"), toasts: $("toasts"),
  };
  const state = {
    nick: localStorage.getItem(NICK_KEY) || "",
    room: localStorage.getItem(ROOM_KEY) || "",
    rooms: [], defaultRoom: "", maxChars: 1000, maxNick: 24,
    joined: false, seen: new Set(), typers: new Map(), lastTypingSent: 0, typingIdle: null,
  };

  const parser = new DOMParser();
  const unescapeHtml = (s) => parser.parseFromString(String(s), "text/html").documentElement.textContent || "";

  function fatal(text) {
    ui.fatal.textContent = text;
    ui.fatal.hidden = false;
  }

  if (typeof window.io !== "function") {
    fatal("The socket.io client did not load (/vendor/socket.io.min.js). Build step missing: run `npm ci` in chat/.");
    setStatus("disconnected", "Unavailable");
    return;
  }

  const socket = window.io({ reconnectionDelayMax: 5000 });

  function setStatus(kind, text) {
    ui.status.className = `status status-${kind}`;
    ui.status.textContent = text;
    const usable = kind === "connected" && state.joined;
    ui.text.disabled = !usable;
    ui.send.disabled = !usable;
  }

  function toast(text, kind = "") {
    const el = document.createElement("div");
    el.className = `toast ${kind}`;
    el.textContent = text;
    ui.toasts.append(el);
    setTimeout(() => el.remove(), 5000);
  }

  // --- rendering ------------------------------------------------------------------------------------

  function renderRooms() {
    ui.rooms.replaceChildren(...state.rooms.map((room) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `# ${room}`;
      button.dataset.room = room;
      button.setAttribute("aria-current", String(room === state.room));
      button.addEventListener("click", () => switchRoom(room));
      li.append(button);
      return li;
    }));
    ui.roomSelect.replaceChildren(...state.rooms.map((room) => {
      const option = document.createElement("option");
      option.value = room;
      option.textContent = `# ${room}`;
      option.selected = room === (state.room || state.defaultRoom);
      return option;
    }));
    ui.roomTitle.textContent = state.room ? `# ${state.room}` : "#";
  }

  function renderPresence(nicks) {
    const names = nicks.map(unescapeHtml);
    ui.presence.replaceChildren(...names.map((name) => {
      const li = document.createElement("li");
      li.textContent = name;
      li.title = name;
      if (name === state.nick) li.classList.add("is-me");
      return li;
    }));
    ui.onlineCount.textContent = String(names.length);
  }

  function showEmpty() {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "No messages yet. Say hello!";
    ui.messages.replaceChildren(li);
  }

  function addMessage(message) {
    if (state.seen.has(message.id)) return; // history and the live stream may overlap on join
    state.seen.add(message.id);
    const nearBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
    ui.messages.querySelector(".empty")?.remove();

    const nick = unescapeHtml(message.nick);
    const item = document.createElement("li");
    item.className = "message";
    item.dataset.testid = "message";
    if (nick === state.nick) item.classList.add("mine");
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = document.createElement("span");
    who.className = "nick";
    who.textContent = nick;
    const when = document.createElement("time");
    const date = new Date(message.ts);
    when.dateTime = date.toISOString();
    when.title = date.toLocaleString();
    when.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    meta.append(who, when);
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = unescapeHtml(message.text);
    item.append(meta, text);
    ui.messages.append(item);
    if (nearBottom || nick === state.nick) ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function renderTyping() {
    const names = [...state.typers.keys()];
    if (names.length === 0) ui.typing.textContent = "";
    else if (names.length === 1) ui.typing.textContent = `${names[0]} is typing…`;
    else if (names.length <= 3) ui.typing.textContent = `${names.join(", ")} are typing…`;
    else ui.typing.textContent = "Several people are typing…";
  }

  function updateCounter() {
    const left = state.maxChars - ui.text.value.length;
    ui.counter.textContent = left < 200 ? String(left) : "";
    ui.counter.classList.toggle("over", left < 0);
  }

  // --- actions --------------------------------------------------------------------------------------

  function join(room) {
    state.room = room;
    state.joined = false;
    state.seen.clear();
    state.typers.clear();
    renderTyping();
    renderRooms();
    ui.messages.replaceChildren();
    localStorage.setItem(ROOM_KEY, room);
    socket.emit("join", { room, nick: state.nick });
  }

  function switchRoom(room) {
    if (room !== state.room && state.nick) join(room);
  }

  function sendTyping(typing) {
    if (!state.joined) return;
    socket.emit("typing", { room: state.room, typing });
  }

  ui.nickForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const nick = ui.nick.value.trim();
    if (!nick) {
      ui.nickError.textContent = "Pick a nickname.";
      return;
    }
    if (nick.length > state.maxNick) {
      ui.nickError.textContent = `At most ${state.maxNick} characters.`;
      return;
    }
    ui.nickError.textContent = "";
    state.nick = nick;
    localStorage.setItem(NICK_KEY, nick);
    ui.me.textContent = nick;
    ui.changeNick.hidden = false;
    ui.overlay.hidden = true;
    if (socket.connected) join(ui.roomSelect.value || state.room || state.defaultRoom);
    else state.room = ui.roomSelect.value || state.room;
  });

  ui.changeNick.addEventListener("click", () => {
    ui.nick.value = state.nick;
    ui.overlay.hidden = false;
    ui.nick.focus();
  });

  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.text.value.trim();
    if (!text || !state.joined) return;
    if (text.length > state.maxChars) {
      toast(`Messages are limited to ${state.maxChars} characters.`, "warn");
      return;
    }
    socket.emit("message", { room: state.room, text });
    ui.text.value = "";
    updateCounter();
    clearTimeout(state.typingIdle);
    state.lastTypingSent = 0;
    sendTyping(false);
  });

  ui.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });

  ui.text.addEventListener("input", () => {
    updateCounter();
    const now = Date.now();
    if (now - state.lastTypingSent > TYPING_SEND_EVERY_MS) {
      state.lastTypingSent = now;
      sendTyping(true);
    }
    clearTimeout(state.typingIdle);
    state.typingIdle = setTimeout(() => {
      state.lastTypingSent = 0;
      sendTyping(false);
    }, TYPING_IDLE_MS);
  });

  // --- socket events --------------------------------------------------------------------------------

  socket.on("connect", () => {
    setStatus("connected", "Connected");
    if (state.nick && ui.overlay.hidden) join(state.room || state.defaultRoom);
  });

  socket.on("welcome", (welcome) => {
    state.rooms = welcome.rooms;
    state.defaultRoom = welcome.default_room;
    state.maxChars = welcome.max_message_chars;
    state.maxNick = welcome.max_nick_chars;
    ui.text.maxLength = state.maxChars;
    ui.nick.maxLength = state.maxNick;
    if (!state.rooms.includes(state.room)) state.room = "";
    renderRooms();
  });

  socket.on("disconnect", (reason) => {
    state.joined = false;
    setStatus("reconnecting", "Reconnecting…");
    // The server said goodbye on purpose: socket.io does not retry on its own then, so we do.
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
  });

  socket.io.on("reconnect_attempt", (attempt) => setStatus("reconnecting", `Reconnecting… (attempt ${attempt})`));
  socket.io.on("reconnect_failed", () => setStatus("disconnected", "Disconnected"));

  socket.on("connect_error", (error) => {
    const draining = error && error.data && error.data.code === "draining";
    setStatus("reconnecting", draining ? "Server restarting, reconnecting…" : "Reconnecting…");
    // A refused handshake is not retried by socket.io; a failed transport is.
    if (!socket.active) setTimeout(() => socket.connect(), 1000 + Math.random() * 2000);
  });

  socket.on("draining", ({ reconnect_in_ms: spreadMs }) => {
    state.joined = false;
    setStatus("moving", "Server restarting, moving you…");
    setTimeout(() => {
      socket.disconnect();
      socket.connect();
    }, Math.random() * spreadMs);
  });

  socket.on("history", ({ room, messages }) => {
    if (room !== state.room) return;
    state.joined = true;
    setStatus("connected", "Connected");
    ui.messages.replaceChildren();
    if (messages.length === 0) showEmpty();
    messages.forEach(addMessage);
    ui.messages.scrollTop = ui.messages.scrollHeight;
  });

  socket.on("message", (message) => {
    if (message.room !== state.room) return;
    state.typers.delete(unescapeHtml(message.nick));
    renderTyping();
    addMessage(message);
  });

  socket.on("presence", ({ room, nicks }) => {
    if (room === state.room) renderPresence(nicks);
  });

  socket.on("typing", ({ room, nick, typing }) => {
    if (room !== state.room) return;
    const name = unescapeHtml(nick);
    clearTimeout(state.typers.get(name));
    if (typing) state.typers.set(name, setTimeout(() => { state.typers.delete(name); renderTyping(); }, TYPING_SHOWN_MS));
    else state.typers.delete(name);
    renderTyping();
  });

  socket.on("error", (error) => toast(error.message || "Refused by the server", "warn"));

  // --- start ----------------------------------------------------------------------------------------

  ui.nick.value = state.nick;
  if (state.nick) ui.me.textContent = state.nick;
  renderRooms();
})();
