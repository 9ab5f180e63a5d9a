"""orjson behind the `dumps`/`loads` interface python-socketio and python-engineio take as their `json` module.

Why: every chat message is encoded into a socket.io packet, encoded again for the Redis pub/sub channel,
decoded by every instance and appended to the history: the standard library's encoder was a visible share
of the CPU per message. orjson produces the same JSON values (compact, like socket.io's own separators);
only the spelling of non-ASCII characters differs (raw UTF-8 instead of `\\uXXXX` escapes), which every JSON
decoder reads back identically. On input it is stricter: NaN, Infinity and lone surrogates are refused as
malformed JSON (python-socketio then drops the packet, as it drops any malformed one), and integers beyond
64 bits are read as floats (the chat's protocol has no numbers a client sends).
"""

from __future__ import annotations

from typing import Any

import orjson

# python-socketio/engine.io catch decoding errors as ValueError; orjson's is a subclass of json's, which is one.
JSONDecodeError = orjson.JSONDecodeError


def dumps(obj: Any, **_options: Any) -> str:
    """JSON text of `obj`; `separators` and the like are accepted and ignored (the output is always compact)."""
    return orjson.dumps(obj).decode()


def loads(data: str | bytes, **_options: Any) -> Any:
    return orjson.loads(data)
