/* Framecast player: shows its channel's stream in one <img> and keeps it alive with no one at
 * the TV. The page at / shows the default channel (or, with ?tv=ID, the channel [tvs] gives that
 * TV), the page at /c/NAME/ channel NAME: every request goes to the page's own folder.
 * Plain ES5 for old TV browsers; every newer API is used only where it exists. Chromium fires no
 * `error` when a stream is cut, so the page asks /status every few seconds whether its own
 * stream is still open, notices a restarted server by its instance id, and reconnects with
 * backoff (1, 2, 4 ... capped at 10 s).
 * A browser that shows no frame of the MJPEG stream within FALLBACK_MS (its image never gets a
 * size) is switched to polling by itself: /snapshot.jpg, reloaded whenever /status says a new
 * frame was published. ?mode=poll and ?mode=mjpeg force either; any other mode is ignored.
 * A small "reconnecting" mark shows once the server has been unreachable, or the stream closed,
 * for MARK_AFTER_MS.
 * Sound: when /status says the channel has sound, a "Sound on" button shows (browsers play
 * sound only after a person presses something; a remote's OK on the focused button counts).
 * Once pressed, an <audio> plays the channel's endless WAV or MP3, kept near the live edge: a
 * player lagging more than LIVE_LAG_S beyond the size of the browser's reads jumps to
 * LIVE_BEHIND_S beyond that size before the end of its buffer,
 * and is reconnected when it stalls, when the channel or its sound changes, and when the
 * server restarts. A channel without sound shows no button and plays nothing. Browsers play
 * sound later than they show an image, so once the sound plays the page asks for its picture
 * that much later (stream?delay=ms, from how far behind its buffer the player is).
 * A ?token=... in the page's address is added to every request the page makes. A stream refused
 * because the server is full fails like a broken one and is retried with the same backoff.
 */
(function () {
  var STATUS_EVERY_MS = 5000;
  var FIRST_STATUS_MS = 1000;
  var POLL_EVERY_MS = 1000;
  var FIRST_BACKOFF_MS = 1000;
  var MAX_BACKOFF_MS = 10000;
  var FALLBACK_MS = 6000;
  var MARK_AFTER_MS = 5000;
  var SOUND_EVERY_MS = 100;
  var LIVE_LAG_S = 0.3;
  var LIVE_BEHIND_S = 0.1;
  var STEP_FADE = 0.995;
  var SYNC_EVERY_MS = 5000;
  var SYNC_AFTER_MS = 3000;
  var SYNC_SLACK_MS = 60;
  // What sound spends before it is in the player's buffer (the machine's output and capture
  // buffers, the server's mix), as bench/bench_audio.py --only av measured it.
  var SOUND_PIPE_S = 0.1;
  var SOUND_STALL_MS = 4000;
  var img = document.getElementById('screen');
  var mark = document.getElementById('reconnecting');
  var sound = document.getElementById('sound');
  var soundButton = document.getElementById('sound-on');
  var modeMatch = /[?&]mode=(poll|mjpeg)(&|$)/.exec(window.location.search);
  var forced = modeMatch ? modeMatch[1] : null;
  var pollMode = forced === 'poll';
  var streamId = Math.random().toString(36).slice(2) + new Date().getTime().toString(36);
  var tokenMatch = /[?&]token=([^&]*)/.exec(window.location.search);
  var tvMatch = /[?&]tv=([^&]*)/.exec(window.location.search);
  var auth = (tokenMatch ? '&token=' + tokenMatch[1] : '') + (tvMatch ? '&tv=' + tvMatch[1] : '');
  var base = window.location.pathname.replace(/[^\/]*$/, '');
  var backoff = FIRST_BACKOFF_MS;
  var instance = null;
  var frames = null;
  var broken = false;
  var notOpen = 0;
  var timer = null;
  var fallbackTimer = null;
  var troubleSince = null;
  var soundWanted = false;
  var soundFormat = null;
  var soundChannel = null;
  var soundMovedAt = 0;
  var soundLastTime = -1;
  var soundEnd = -1;
  var soundStep = 0;
  var lagSum = 0;
  var lagCount = 0;
  var syncedAt = 0;
  var pictureDelayMs = 0;
  var soundPlayedSince = 0;

  function getJson(url, done) {
    var xhr = new XMLHttpRequest();
    var finished = false;
    function finish(data) { if (!finished) { finished = true; done(data); } }
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var data = null;
      if (xhr.status === 200) { try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; } }
      finish(data);
    };
    xhr.open('GET', url, true);
    try { xhr.timeout = 4000; xhr.ontimeout = function () { finish(null); }; } catch (e) { /* old browsers */ }
    xhr.send();
  }

  function stamp() { return new Date().getTime(); }

  function connect() {
    notOpen = 0;
    if (fallbackTimer) { clearTimeout(fallbackTimer); fallbackTimer = null; }
    if (pollMode) {
      img.src = base + 'snapshot.jpg?t=' + stamp() + auth;
    } else {
      img.src = base + 'stream?id=' + streamId + '&t=' + stamp() + (pictureDelayMs ? '&delay=' + pictureDelayMs : '') + auth;
      if (!forced) { fallbackTimer = setTimeout(fallBackIfBlank, FALLBACK_MS); }
    }
  }

  function fallBackIfBlank() {
    fallbackTimer = null;
    if (!pollMode && !broken && !img.naturalWidth) {
      pollMode = true;
      connect();
      later(POLL_EVERY_MS);
    }
  }

  function later(ms) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(check, ms);
  }

  function trouble() {
    if (troubleSince === null) { troubleSince = stamp(); }
  }

  function fail() {
    broken = true;
    trouble();
    // Up to a quarter less, at random: a building of TVs does not all knock at the same moment
    // when the server comes back.
    later(backoff * (0.75 + Math.random() * 0.25));
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  function check() {
    getJson(base + 'status?t=' + stamp() + (pollMode ? '' : '&stream=' + streamId) + auth, function (status) {
      if (!status) { fail(); return; }
      var restarted = instance !== null && status.instance !== instance;
      instance = status.instance;
      followSound(status, restarted);
      if (pollMode) {
        var shown = status.watching ? status.watching.frames : status.frames;
        if (broken || restarted || shown !== frames) { frames = shown; connect(); }
        troubleSince = null;
      } else {
        notOpen = status.stream_open ? 0 : notOpen + 1;
        if (status.stream_open) { troubleSince = null; } else { trouble(); }
        if (broken || restarted || notOpen >= 2) { connect(); }
      }
      broken = false;
      backoff = FIRST_BACKOFF_MS;
      later(pollMode ? POLL_EVERY_MS : STATUS_EVERY_MS);
    });
  }

  function followSound(status, restarted) {
    var watching = status.watching || {};
    var format = watching.audio || null;
    var changed = format !== soundFormat || watching.channel !== soundChannel;
    soundFormat = format;
    soundChannel = watching.channel;
    if (soundButton) { soundButton.style.display = format && !soundWanted ? 'block' : 'none'; }
    if (soundButton && format && !soundWanted && document.activeElement !== soundButton) { soundButton.focus(); }
    if (soundWanted && (changed || restarted)) { playSound(); }
    if (!format && pictureDelayMs) { delayPicture(0); }
  }

  // The browser plays sound later than it shows a frame: once the sound has played a while,
  // the picture is asked for that much later (?delay=), so both reach the screen together.
  function delayPicture(ms) {
    pictureDelayMs = ms;
    if (!pollMode) { connect(); }
  }

  function lineUp() {
    if (!lagCount || stamp() - soundPlayedSince < SYNC_AFTER_MS || stamp() - syncedAt < SYNC_EVERY_MS) { return; }
    var wanted = Math.round((lagSum / lagCount + soundStep / 2 + SOUND_PIPE_S) * 1000);
    wanted = Math.max(0, Math.min(wanted, 2000));
    lagSum = 0;
    lagCount = 0;
    syncedAt = stamp();
    if (Math.abs(wanted - pictureDelayMs) > SYNC_SLACK_MS) { delayPicture(wanted); }
  }

  function playSound() {
    if (!sound) { return; }
    if (!soundFormat) {
      sound.pause();
      sound.removeAttribute('src');
      return;
    }
    sound.src = base + 'audio.' + soundFormat + '?t=' + stamp() + auth;
    soundMovedAt = stamp();
    soundLastTime = -1;
    soundEnd = -1;
    soundStep = 0;
    lagSum = 0;
    lagCount = 0;
    soundPlayedSince = stamp();
    var playing = sound.play();
    if (playing && typeof playing['catch'] === 'function') {
      playing['catch'](function (e) {
        // Refused without a press (NotAllowedError): ask for one again.
        if (e && e.name === 'NotAllowedError') { soundWanted = false; }
      });
    }
  }

  function keepSoundLive() {
    if (!soundWanted || !soundFormat || !sound) { return; }
    var buffered = sound.buffered;
    if (buffered && buffered.length) {
      var end = buffered.end(buffered.length - 1);
      // The browser reads in chunks (Chromium: 32 KB, 0.17 s of WAV, 0.8 s of MP3 at
      // 320 kbit/s): what it plays must last until the next chunk, or it runs dry.
      soundStep = end > soundEnd && soundEnd >= 0 ? Math.max(soundStep * STEP_FADE, end - soundEnd) : soundStep * STEP_FADE;
      soundEnd = end;
      if (end - sound.currentTime > soundStep + LIVE_LAG_S) {
        try { sound.currentTime = end - soundStep - LIVE_BEHIND_S; } catch (e) { /* not seekable yet */ }
      } else if (!sound.paused) {
        lagSum += end - sound.currentTime;
        lagCount += 1;
        lineUp();
      }
    }
    if (sound.currentTime !== soundLastTime) {
      soundLastTime = sound.currentTime;
      soundMovedAt = stamp();
    } else if (stamp() - soundMovedAt > SOUND_STALL_MS) {
      playSound();
    }
  }

  function soundOn() {
    soundWanted = true;
    if (soundButton) { soundButton.style.display = 'none'; }
    playSound();
  }

  function showMark() {
    var late = troubleSince !== null && stamp() - troubleSince > MARK_AFTER_MS;
    if (mark) { mark.style.display = late ? 'block' : 'none'; }
  }

  function stayAwake() {
    var lock = navigator.wakeLock;
    if (lock && typeof lock.request === 'function' && document.visibilityState === 'visible') {
      var asked = lock.request('screen');
      if (asked && typeof asked['catch'] === 'function') { asked['catch'](function () {}); }
    }
  }

  img.onerror = function () { if (!broken) { fail(); } };
  if (soundButton) { soundButton.onclick = soundOn; }
  if (document.addEventListener) { document.addEventListener('visibilitychange', stayAwake, false); }
  stayAwake();
  connect();
  // The first look is soon: it tells whether to offer sound.
  later(pollMode ? POLL_EVERY_MS : FIRST_STATUS_MS);
  setInterval(showMark, 1000);
  setInterval(keepSoundLive, SOUND_EVERY_MS);
}());
