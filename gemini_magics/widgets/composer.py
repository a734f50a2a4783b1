"""The chat panel's two small anywidget parts, where stock ipywidgets fall short.

* :class:`Composer`: a text box where Enter sends and Shift+Enter makes a new line (not while an
  input method is composing). Its ``value`` is synced as you type, so the Send button and
  ``panel.input.value`` keep working. ``busy`` shows, visibly, that sending waits for an answer.
* :class:`ScrollFollower`: an invisible part that keeps the panel's message list scrolled to the
  newest message while the reader is at the bottom, leaves the view alone once they scroll up, and
  jumps to the bottom when the kernel says so (on Send).

No build step: each is a Python class and an ES module string. The JavaScript only ever sets
``value``, ``placeholder``, ``scrollTop`` and classes; it never renders text as HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets as t

COMPOSER_ESM = """
export default {
  render({ model, el }) {
    const box = document.createElement("textarea");
    box.className = "gm-composer-box";
    box.setAttribute("aria-label", "Message to Gemini");
    const hint = document.createElement("div");
    hint.className = "gm-composer-hint";
    el.classList.add("gm-composer");
    el.append(box, hint);

    const show = () => {
      const value = model.get("value");
      if (box.value !== value) box.value = value;
      box.placeholder = model.get("placeholder");
      box.rows = model.get("rows");
      box.disabled = model.get("disabled");
      const busy = model.get("busy");
      el.classList.toggle("gm-composer-busy", busy);
      box.setAttribute("aria-disabled", busy || model.get("disabled") ? "true" : "false");
      hint.textContent = busy ? model.get("busy_hint") : model.get("hint");
    };
    show();
    model.on("change", show);

    box.addEventListener("input", () => {
      model.set("value", box.value);
      model.save_changes();
    });
    const keep = (event) => event.stopPropagation(); // keys typed here are not notebook shortcuts
    box.addEventListener("keypress", keep);
    box.addEventListener("keyup", keep);
    box.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key !== "Enter" || event.shiftKey) return; // Shift+Enter: a new line, as usual
      if (event.isComposing || event.keyCode === 229) return; // an input method is composing
      event.preventDefault();
      if (model.get("busy") || model.get("disabled")) return; // sending waits for the answer
      model.set("value", box.value);
      model.save_changes();
      model.send({ type: "submit", value: box.value });
    });
    return () => model.off("change", show);
  },
};
"""

COMPOSER_CSS = """
.gm-composer { display: flex; flex-direction: column; width: 100%; }
.gm-composer-box { box-sizing: border-box; width: 100%; resize: vertical; font: inherit;
  padding: 4px 6px; color: var(--jp-ui-font-color0); background: var(--jp-layout-color0);
  border: var(--jp-border-width, 1px) solid var(--jp-border-color1); border-radius: 4px; }
.gm-composer-box:focus { outline: none; border-color: var(--jp-brand-color1); }
.gm-composer-hint { font-size: var(--jp-ui-font-size0, 11px); color: var(--jp-ui-font-color2); }
.gm-composer-busy .gm-composer-box { background: var(--jp-layout-color2); border-style: dashed;
  color: var(--jp-ui-font-color2); }
.gm-composer-busy .gm-composer-hint { color: var(--jp-warn-color1); }
"""

FOLLOWER_ESM = """
// Finds the panel it belongs to from its own element (.gm-chat), so two views of one panel, or
// two panels, each follow their own list.
const NEAR = 24; // px from the bottom that still count as "at the bottom"

export default {
  render({ model, el }) {
    el.classList.add("gm-scroll-follower");
    let scroller = null;
    let stick = true;
    let tries = 0;
    let timer = null;
    const observers = [];

    const RELEASE = ["pointerup", "pointercancel", "touchend"];
    let holding = false; // a finger or the mouse is on the scroller (dragging the scrollbar)
    const toBottom = () => { if (scroller) scroller.scrollTop = scroller.scrollHeight; };
    const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= NEAR;
    const setStick = (value) => { stick = value; el.dataset.following = String(value); };
    const follow = () => { if (stick && !holding) toBottom(); };
    const onScroll = () => setStick(atBottom());
    // the reader's intent counts at once, before a smooth scroll has moved far from the bottom
    const onWheel = (event) => { if (event.deltaY < 0) setStick(false); };
    const onKey = (event) => { if (["ArrowUp", "PageUp", "Home"].includes(event.key)) setStick(false); };
    const onHold = () => { holding = true; };
    const onRelease = () => { holding = false; };
    const listeners = [["scroll", onScroll], ["wheel", onWheel], ["keydown", onKey],
      ["pointerdown", onHold], ["touchstart", onHold]];

    const attach = () => {
      timer = null;
      const root = el.closest(".gm-chat");
      const found = root && root.querySelector(".gm-chat-scroller");
      const list = found && found.querySelector(".gm-chat-messages");
      if (!list) {
        if (tries++ < 400) timer = setTimeout(attach, 25); // the panel is still being put together
        return;
      }
      scroller = found;
      listeners.forEach(([name, handler]) => scroller.addEventListener(name, handler, { passive: true }));
      RELEASE.forEach((name) => window.addEventListener(name, onRelease));
      const resized = new ResizeObserver(follow);
      resized.observe(list);
      resized.observe(scroller);
      const changed = new MutationObserver(follow);
      changed.observe(list, { childList: true, subtree: true, characterData: true });
      observers.push(resized, changed);
      setStick(true);
      toBottom();
    };
    attach();

    const onMessage = (msg) => {
      if (msg && msg.type === "bottom") {
        setStick(true);
        toBottom();
      }
    };
    model.on("msg:custom", onMessage);
    return () => {
      if (timer !== null) clearTimeout(timer);
      observers.forEach((observer) => observer.disconnect());
      if (scroller) listeners.forEach(([name, handler]) => scroller.removeEventListener(name, handler));
      RELEASE.forEach((name) => window.removeEventListener(name, onRelease));
      model.off("msg:custom", onMessage);
    };
  },
};
"""

FOLLOWER_CSS = ".gm-scroll-follower { display: none; }"

Submit = Callable[[str], Any]


class Composer(anywidget.AnyWidget):  # type: ignore[misc]
    """A text box where Enter sends and Shift+Enter makes a new line.

    ``on_submit(callback)`` registers ``callback(text)``, called on Enter (the front end sends the
    text with the request, so the kernel acts on exactly what was in the box).
    """

    _esm = COMPOSER_ESM
    _css = COMPOSER_CSS
    value = t.Unicode("", help="The text in the box, synced as it is typed.").tag(sync=True)
    placeholder = t.Unicode("Ask Gemini…", help="Shown while the box is empty.").tag(sync=True)
    rows = t.Int(3, help="Visible lines of text.").tag(sync=True)
    disabled = t.Bool(False, help="No typing and no sending.").tag(sync=True)
    busy = t.Bool(False, help="Typing goes on, but Enter does not send (an answer is coming).").tag(sync=True)
    hint = t.Unicode("Enter sends · Shift+Enter makes a new line", help="The line under the box.").tag(
        sync=True
    )
    busy_hint = t.Unicode(
        "Answering… Enter sends again once the answer is in", help="The line under the box while busy."
    ).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._submit_callbacks: list[Submit] = []
        self.on_msg(self._handle_message)

    def on_submit(self, callback: Submit, remove: bool = False) -> None:
        """Call ``callback(text)`` when the user presses Enter (``remove=True`` unregisters it)."""
        if remove:
            self._submit_callbacks.remove(callback)
        else:
            self._submit_callbacks.append(callback)

    def submit(self, text: str | None = None) -> None:
        """Act as if the user pressed Enter with ``text`` (default: the current value) in the box."""
        if text is not None:
            self.value = text
        for callback in list(self._submit_callbacks):
            callback(self.value)

    def _handle_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "submit":
            return
        if self.disabled:
            return
        text = content.get("value")
        self.submit(text if isinstance(text, str) else None)


class ScrollFollower(anywidget.AnyWidget):  # type: ignore[misc]
    """Keeps the enclosing ``.gm-chat`` panel's ``.gm-chat-scroller`` at the newest message.

    It follows while the reader is at the bottom and stops when they scroll up;
    :meth:`to_bottom` (called on Send) scrolls down and follows again.
    """

    _esm = FOLLOWER_ESM
    _css = FOLLOWER_CSS

    def to_bottom(self) -> None:
        """Scroll every view of the panel to the newest message and follow it from now on."""
        self.send({"type": "bottom"})
