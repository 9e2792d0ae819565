/* The admin page: plain script, no build step. Talks to /api/admin/* with the session cookie
   and the CSRF token it gets at log-in. */
(function () {
  "use strict";
  var csrf = null;
  var channels = [];
  var byId = function (id) { return document.getElementById(id); };

  function say(text, isError) {
    var box = byId("message");
    box.textContent = text || "";
    box.className = isError ? "error" : "";
  }

  function call(method, path, body, onDone) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader("X-Framecast", "1");
    if (csrf) { xhr.setRequestHeader("X-CSRF-Token", csrf); }
    if (body !== undefined) { xhr.setRequestHeader("Content-Type", "application/json"); }
    xhr.onload = function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (ignored) { data = null; }
      if (xhr.status === 401 && path !== "/api/admin/login") { showLogin(); return; }
      onDone(xhr.status, data || {});
    };
    xhr.onerror = function () { say("The server cannot be reached.", true); };
    xhr.send(body === undefined ? null : JSON.stringify(body));
  }

  function channelPath(name) { return "/api/admin/channels/" + encodeURIComponent(name); }

  function showLogin() {
    csrf = null;
    byId("admin").hidden = true;
    byId("logout").hidden = true;
    byId("login").hidden = false;
    byId("token").focus();
  }

  function start(token) {
    csrf = token;
    byId("login").hidden = true;
    byId("admin").hidden = false;
    byId("logout").hidden = false;
    loadChannels();
  }

  byId("login").addEventListener("submit", function (event) {
    event.preventDefault();
    call("POST", "/api/admin/login", { token: byId("token").value }, function (status, data) {
      if (status === 200) {
        byId("token").value = "";
        byId("login-error").textContent = "";
        start(data.csrf);
      } else {
        byId("login-error").textContent = data.error || "Log-in failed.";
      }
    });
  });

  byId("logout").addEventListener("click", function () {
    call("POST", "/api/admin/logout", {}, function () { showLogin(); });
  });

  function loadChannels() {
    call("GET", "/api/admin/channels", undefined, function (status, data) {
      if (status !== 200) { say(data.error || "Cannot list the channels.", true); return; }
      channels = data.channels;
      var list = byId("channels");
      var select = byId("announce-channel");
      list.innerHTML = "";
      while (select.options.length > 1) { select.remove(1); }
      for (var i = 0; i < channels.length; i++) {
        list.appendChild(channelCard(channels[i]));
        var option = document.createElement("option");
        option.value = channels[i].name;
        option.textContent = channels[i].name;
        select.appendChild(option);
      }
      showAnnouncement();
    });
  }

  function showAnnouncement() {
    var shown = [];
    for (var i = 0; i < channels.length; i++) {
      if (channels[i].announcement) {
        shown.push(channels[i].name + ": " + channels[i].announcement.text);
      }
    }
    byId("announce-state").textContent = shown.length ? "Showing — " + shown.join("; ") : "";
  }

  function channelCard(channel) {
    var card = document.importNode(byId("channel-template").content, true).firstElementChild;
    card.setAttribute("data-channel", channel.name);
    card.querySelector(".name").textContent = channel.name;
    var link = card.querySelector(".tv-url");
    link.href = channel.url;
    link.textContent = channel.url;
    card.querySelector(".qr").src = channelPath(channel.name) + "/qr.svg";
    refreshThumbnail(card, channel.name);
    var buttons = card.querySelectorAll(".controls button");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", control(channel.name, buttons[i]));
    }
    var sources = card.querySelectorAll(".source button");
    for (var s = 0; s < sources.length; s++) {
      // "Stream" only for a channel with a camera or stream address ([stream] url).
      sources[s].hidden = sources[s].getAttribute("data-source") === "url" && !channel.stream;
      sources[s].setAttribute("aria-pressed", String(sources[s].getAttribute("data-source") === channel.source));
      sources[s].addEventListener("click", switchSource(channel.name, card, sources[s]));
    }
    var input = card.querySelector("input[type=file]");
    input.addEventListener("change", function () {
      for (var j = 0; j < input.files.length; j++) { upload(card, channel.name, input.files[j]); }
      input.value = "";
    });
    loadSlides(card, channel.name);
    return card;
  }

  function refreshThumbnail(card, name) {
    card.querySelector(".thumbnail").src =
      channelPath(name) + "/thumbnail.jpg?t=" + new Date().getTime();
  }

  function control(name, button) {
    return function () {
      var action = button.getAttribute("data-action");
      call("POST", channelPath(name) + "/control", { action: action }, function (status, data) {
        if (status !== 200) { say(data.error, true); return; }
        say(name + ": " + action);
        var card = findCard(name);
        setTimeout(function () { refreshThumbnail(card, name); }, 700);
      });
    };
  }

  function switchSource(name, card, pressed) {
    return function () {
      var source = pressed.getAttribute("data-source");
      call("POST", channelPath(name) + "/source", { source: source }, function (status, data) {
        if (status !== 200) { say(data.error, true); return; }
        var buttons = card.querySelectorAll(".source button");
        for (var i = 0; i < buttons.length; i++) {
          buttons[i].setAttribute("aria-pressed", String(buttons[i] === pressed));
        }
        var shown = { screen: "screen", url: "stream" }[source] || "slides";
        say(name + " shows the " + shown);
        setTimeout(function () { refreshThumbnail(card, name); }, 700);
      });
    };
  }

  function findCard(name) {
    var cards = document.querySelectorAll(".channel");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i].getAttribute("data-channel") === name) { return cards[i]; }
    }
    return null;
  }

  function upload(card, name, file) {
    var row = document.createElement("li");
    var label = document.createElement("span");
    label.className = "file";
    label.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    row.appendChild(label);
    row.appendChild(bar);
    card.querySelector(".progress").appendChild(row);
    var form = new FormData();
    form.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", channelPath(name) + "/slides");
    xhr.setRequestHeader("X-Framecast", "1");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable) { bar.value = Math.round(100 * event.loaded / event.total); }
    };
    xhr.onload = function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (ignored) { data = {}; }
      bar.value = 100;
      if (xhr.status === 200) {
        label.textContent = file.name + " — added";
        loadSlides(card, name);
      } else {
        var why = data.refused && data.refused.length ? data.refused[0].reason : data.error;
        label.textContent = file.name + " — not added: " + (why || "error " + xhr.status);
        label.className = "file error";
      }
    };
    xhr.onerror = function () {
      label.textContent = file.name + " — the upload broke off";
      label.className = "file error";
    };
    xhr.send(form);
  }

  function loadSlides(card, name) {
    // Uploads finish in any order and each asks again: only the newest answer is drawn.
    var asked = (card.slidesAsked || 0) + 1;
    card.slidesAsked = asked;
    call("GET", channelPath(name) + "/slides", undefined, function (status, data) {
      if (asked !== card.slidesAsked) { return; }
      if (status !== 200) { say(data.error, true); return; }
      var list = card.querySelector(".slides");
      list.innerHTML = "";
      for (var i = 0; i < data.slides.length; i++) {
        list.appendChild(slideRow(card, name, data.slides[i], data.timing[data.slides[i]]));
      }
      var trash = card.querySelector(".trash");
      trash.innerHTML = "";
      for (var k = 0; k < data.trash.length; k++) {
        trash.appendChild(trashRow(card, name, data.trash[k].name));
      }
    });
  }

  function button(text, onClick) {
    var made = document.createElement("button");
    made.type = "button";
    made.textContent = text;
    made.addEventListener("click", onClick);
    return made;
  }

  var DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

  function timingForm(name, file, timing) {
    var box = document.createElement("div");
    box.className = "timing";
    box.hidden = true;
    var seconds = document.createElement("input");
    seconds.type = "number";
    seconds.min = "1";
    seconds.placeholder = "seconds";
    seconds.setAttribute("aria-label", "Seconds on screen");
    if (timing && timing.duration) { seconds.value = timing.duration; }
    box.appendChild(seconds);
    var days = [];
    for (var d = 0; d < DAYS.length; d++) {
      var label = document.createElement("label");
      var tick = document.createElement("input");
      tick.type = "checkbox";
      tick.value = DAYS[d];
      tick.checked = !timing || !timing.days || timing.days.indexOf(DAYS[d]) >= 0;
      label.appendChild(tick);
      label.appendChild(document.createTextNode(DAYS[d]));
      box.appendChild(label);
      days.push(tick);
    }
    var hours = document.createElement("input");
    hours.type = "text";
    hours.placeholder = "08:00-11:30, 17:00-22:00";
    hours.setAttribute("aria-label", "Hours of the day");
    if (timing && timing.hours) { hours.value = timing.hours.join(", "); }
    box.appendChild(hours);
    box.appendChild(button("Save", function () {
      var chosen = [];
      for (var k = 0; k < days.length; k++) { if (days[k].checked) { chosen.push(days[k].value); } }
      var windows = hours.value.split(",").map(function (h) { return h.trim(); })
        .filter(function (h) { return h.length > 0; });
      var body = {
        seconds: seconds.value ? Number(seconds.value) : null,
        days: chosen.length === 7 ? null : chosen,
        hours: windows.length ? windows : null
      };
      var path = channelPath(name) + "/slides/" + encodeURIComponent(file) + "/timing";
      call("PUT", path, body, function (status, data) {
        if (status !== 200) { say(data.error, true); return; }
        say(file + ": time saved");
        box.hidden = true;
      });
    }));
    return box;
  }

  function slideRow(card, name, file, timing) {
    var row = document.createElement("li");
    row.draggable = true;
    row.setAttribute("data-name", file);
    var label = document.createElement("span");
    label.className = "file";
    label.textContent = file;
    row.appendChild(label);
    row.appendChild(button("Up", function () { move(card, name, row, -1); }));
    row.appendChild(button("Down", function () { move(card, name, row, 1); }));
    var form = timingForm(name, file, timing);
    row.appendChild(button("Time", function () { form.hidden = !form.hidden; }));
    row.appendChild(button("Remove", function () { remove(card, name, file); }));
    row.appendChild(form);
    row.addEventListener("dragstart", function (event) {
      row.className = "dragging";
      event.dataTransfer.setData("text/plain", file);
    });
    row.addEventListener("dragend", function () { row.className = ""; });
    row.addEventListener("dragover", function (event) { event.preventDefault(); });
    row.addEventListener("drop", function (event) {
      event.preventDefault();
      var dragged = card.querySelector(".slides li.dragging");
      if (dragged && dragged !== row) {
        row.parentNode.insertBefore(dragged, row);
        saveOrder(card, name);
      }
    });
    return row;
  }

  function move(card, name, row, step) {
    var list = row.parentNode;
    if (step < 0 && row.previousElementSibling) {
      list.insertBefore(row, row.previousElementSibling);
    } else if (step > 0 && row.nextElementSibling) {
      list.insertBefore(row.nextElementSibling, row);
    } else {
      return;
    }
    saveOrder(card, name);
  }

  function saveOrder(card, name) {
    var rows = card.querySelectorAll(".slides li");
    var names = [];
    for (var i = 0; i < rows.length; i++) { names.push(rows[i].getAttribute("data-name")); }
    call("PUT", channelPath(name) + "/order", names, function (status, data) {
      if (status !== 200) { say(data.error, true); loadSlides(card, name); return; }
      say(name + ": order saved");
    });
  }

  function remove(card, name, file) {
    var path = channelPath(name) + "/slides/" + encodeURIComponent(file);
    call("DELETE", path, undefined, function (status, data) {
      if (status !== 200) { say(data.error, true); return; }
      loadSlides(card, name);
      var box = byId("message");
      box.className = "";
      box.textContent = file + " moved to the trash. ";
      box.appendChild(button("Undo", function () { restore(card, name, data.trashed); }));
    });
  }

  function trashRow(card, name, trashed) {
    var row = document.createElement("li");
    var label = document.createElement("span");
    label.className = "file";
    label.textContent = trashed;
    row.appendChild(label);
    row.appendChild(button("Restore", function () { restore(card, name, trashed); }));
    return row;
  }

  function restore(card, name, trashed) {
    var path = channelPath(name) + "/slides/" + encodeURIComponent(trashed) + "/restore";
    call("POST", path, {}, function (status, data) {
      if (status !== 200) { say(data.error, true); return; }
      say(data.restored + " is back");
      loadSlides(card, name);
    });
  }

  byId("announce").addEventListener("submit", function (event) {
    event.preventDefault();
    var minutes = byId("announce-minutes").value;
    var body = {
      text: byId("announce-text").value,
      channel: byId("announce-channel").value || null,
      minutes: minutes ? Number(minutes) : null,
      color: byId("announce-color").value
    };
    call("POST", "/api/admin/announce", body, function (status, data) {
      if (status !== 200) { say(data.error, true); return; }
      say("Announced.");
      loadChannels();
    });
  });

  byId("announce-clear").addEventListener("click", function () {
    var channel = byId("announce-channel").value;
    var query = channel ? "?channel=" + encodeURIComponent(channel) : "";
    call("DELETE", "/api/admin/announce" + query, undefined, function (status, data) {
      if (status !== 200) { say(data.error, true); return; }
      say("Announcement cleared.");
      loadChannels();
    });
  });

  setInterval(function () {
    if (!csrf) { return; }
    for (var i = 0; i < channels.length; i++) {
      var card = findCard(channels[i].name);
      if (card) { refreshThumbnail(card, channels[i].name); }
    }
  }, 5000);

  call("GET", "/api/admin/session", undefined, function (status, data) {
    if (status === 200) { start(data.csrf); } else { showLogin(); }
  });
}());
