// Warns before the idle logoff, then reloads the page once it has passed, so
// that the server signs the session out and gives back the call in hand.
// The limit comes from the page (data-idle-seconds); only a request to the
// server counts as activity, so this timer starts with the page.
(function () {
  "use strict";
  var script = document.currentScript;
  var idle = parseInt(script.dataset.idleSeconds, 10);
  if (!(idle > 0)) {
    return;
  }
  var warnBefore = Math.min(120, Math.floor(idle / 3));
  var loadedAt = Date.now();

  function banner(secondsLeft) {
    var box = document.getElementById("idle-warning");
    if (!box) {
      box = document.createElement("div");
      box.id = "idle-warning";
      box.setAttribute("role", "alert");
      box.className = "messagelist";
      box.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:1000;" +
        "background:#ffc;border-bottom:2px solid #c90;padding:10px 20px;";
      var text = document.createElement("span");
      text.id = "idle-warning-text";
      var stay = document.createElement("button");
      stay.type = "button";
      stay.id = "idle-stay";
      stay.className = "button";
      stay.textContent = "Stay signed in";
      stay.style.marginLeft = "1em";
      stay.addEventListener("click", function () { window.location.reload(); });
      box.appendChild(text);
      box.appendChild(stay);
      document.body.appendChild(box);
    }
    var minutes = Math.floor(secondsLeft / 60);
    var seconds = secondsLeft % 60;
    document.getElementById("idle-warning-text").textContent =
      "You will be signed out in " + minutes + ":" + (seconds < 10 ? "0" : "") + seconds +
      " without activity. A call in hand that is not logged will go back to the queue.";
  }

  function tick() {
    var left = idle - Math.floor((Date.now() - loadedAt) / 1000);
    if (left <= -2) {
      window.location.reload();
      return;
    }
    if (left <= warnBefore) {
      banner(Math.max(left, 0));
    }
    window.setTimeout(tick, 1000);
  }
  window.setTimeout(tick, 1000);
})();
