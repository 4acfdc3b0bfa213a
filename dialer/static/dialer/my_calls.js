// Keeps "My calls" current without a reload: asks the page's live URL every few
// seconds for what waits, the presence, and the call in hand looked at again.
// A call that changed is drawn again; one withdrawn since is removed with its
// reason. The poll is not activity (X-Live-Poll): the idle logoff still counts
// from the last thing the staff member did.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.dataset.liveUrl;
  var every = Math.max(parseInt(script.dataset.pollSeconds, 10) || 3, 1) * 1000;

  function swap(id, html) {
    var box = document.getElementById(id);
    if (box && box.innerHTML !== html) {
      box.innerHTML = html;
    }
  }

  function apply(data) {
    swap("waiting", data.waiting_html);
    var state = document.getElementById("presence-state");
    if (state) {
      state.textContent = data.presence;
    }
    var hand = document.getElementById("in-hand");
    if (hand && hand.dataset.key !== data.in_hand_key) {
      hand.innerHTML = data.in_hand_html;
      hand.dataset.key = data.in_hand_key;
      hand.dataset.attempt = data.in_hand_key.split(":")[0];
    }
    if (data.withdrawn) {
      var notice = document.getElementById("withdrawn-notice");
      document.getElementById("withdrawn-text").textContent = data.withdrawn;
      notice.hidden = false;
    }
  }

  function poll() {
    var hand = document.getElementById("in-hand");
    var had = hand ? hand.dataset.attempt || "" : "";
    fetch(url + "?had=" + encodeURIComponent(had), {
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-Live-Poll": "1" },
    })
      .then(function (response) {
        if (response.redirected || !response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(apply)
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
})();
