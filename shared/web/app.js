/*
 * AppRTC web client for apprtc-local and the Lambda deployment.
 *
 * Vanilla JS, no build step, nothing fetched from elsewhere. It reads `window.loadingParams`
 * (rendered by room::web::room_page) and speaks the protocol of the original AppRTC web client
 * (spec §5.1/§5.2): POST /join, WebSocket register, the initiator sends through
 * POST /message, the joiner through the WebSocket, hang-up = /leave, bye, close, DELETE.
 *
 * For tests the page exposes its state: body[data-state] (idle, joining, waiting, connecting,
 * connected, peer-left, error), body[data-ice] (the RTCPeerConnection's iceConnectionState) and
 * window.__apprtc ({clientId, isInitiator, selectedCandidateType(), stats, restartIce(), log}).
 */
(function () {
  'use strict';

  var P = window.loadingParams || {};
  var LOOPBACK_CLIENT_ID = 'loopback_client_id';
  var ROOM_RE = /^[A-Za-z0-9_-]+$/;
  var MIN_ROOM_LENGTH = 5;
  var NEEDS_HTTPS = 'Camera and microphone need HTTPS (or localhost).';
  // Where the room server lives: the page is `<root>/` or `<root>/r/<room>`.
  var ROOT = location.pathname.replace(/\/r\/[^/]*$/, '').replace(/\/+$/, '');

  // ---------------------------------------------------------------- small helpers

  var logLines = [];
  function trace() {
    var text = Array.prototype.map.call(arguments, function (a) {
      if (a && typeof a === 'object' && typeof a.message === 'string') return a.name + ': ' + a.message;
      return typeof a === 'string' ? a : JSON.stringify(a);
    }).join(' ');
    var line = (performance.now() / 1000).toFixed(3) + ' ' + text;
    logLines.push(line);
    if (logLines.length > 400) logLines.shift();
    if (window.console) console.log('[apprtc] ' + line);
  }

  function h(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === false || v === null || v === undefined) return;
      if (k === 'text') node.textContent = v;
      else if (k === 'hidden') node.hidden = true;
      else node.setAttribute(k, v === true ? '' : v);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function $(id) { return document.getElementById(id); }

  function enc(s) { return encodeURIComponent(s); }

  function randomRoomName() {
    // Like the original: 9 random digits (the room rule asks for >= 5 of [A-Za-z0-9_-]).
    var words = new Uint32Array(9);
    if (window.crypto && crypto.getRandomValues) {
      crypto.getRandomValues(words);
    } else {
      for (var i = 0; i < words.length; i++) words[i] = Math.floor(Math.random() * 4294967296);
    }
    return Array.prototype.map.call(words, function (w) { return String(w % 10); }).join('');
  }

  function isValidRoom(name) {
    return name.length >= MIN_ROOM_LENGTH && ROOM_RE.test(name);
  }

  function notices(list, cls) {
    var box = h('div', {class: 'notices'});
    (list || []).forEach(function (text) {
      if (text) box.appendChild(h('p', {class: cls, text: String(text)}));
    });
    return box;
  }

  function setBodyData(key, value) {
    document.body.dataset[key] = value;
  }

  // Converts the server's media constraints, which may use the legacy {mandatory, optional}
  // form of the original (minWidth: "1280", goog* keys), into standard getUserMedia constraints.
  var RANGE_KEYS = {
    minWidth: ['width', 'min'], maxWidth: ['width', 'max'],
    minHeight: ['height', 'min'], maxHeight: ['height', 'max'],
    minFrameRate: ['frameRate', 'min'], maxFrameRate: ['frameRate', 'max'],
    minAspectRatio: ['aspectRatio', 'min'], maxAspectRatio: ['aspectRatio', 'max']
  };
  var RENAMED_KEYS = {
    googEchoCancellation: 'echoCancellation', echoCancellation: 'echoCancellation',
    googAutoGainControl: 'autoGainControl', autoGainControl: 'autoGainControl',
    googNoiseSuppression: 'noiseSuppression', noiseSuppression: 'noiseSuppression',
    sourceId: 'deviceId', deviceId: 'deviceId', facingMode: 'facingMode',
    width: 'width', height: 'height', frameRate: 'frameRate'
  };

  function constraintValue(v) {
    if (v === 'true') return true;
    if (v === 'false') return false;
    if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    return v;
  }

  function trackConstraints(c) {
    if (c === undefined || c === null) return false;
    if (typeof c !== 'object') return !!c;
    if (!('mandatory' in c) && !('optional' in c)) return c;
    var out = {};
    function apply(key, raw, mandatory) {
      var value = constraintValue(raw);
      var range = RANGE_KEYS[key];
      if (range) {
        var entry = out[range[0]] = (typeof out[range[0]] === 'object' ? out[range[0]] : {});
        if (mandatory) entry[range[1]] = value;
        else if (!('ideal' in entry)) entry.ideal = value;
        return;
      }
      var name = RENAMED_KEYS[key];
      if (!name) return; // other goog* switches have no standard equivalent
      out[name] = mandatory ? {exact: value} : {ideal: value};
    }
    var mandatory = c.mandatory || {};
    Object.keys(mandatory).forEach(function (k) { apply(k, mandatory[k], true); });
    (c.optional || []).forEach(function (entry) {
      Object.keys(entry || {}).forEach(function (k) { apply(k, entry[k], false); });
    });
    return Object.keys(out).length ? out : true;
  }

  function mediaConstraints() {
    var mc = P.mediaConstraints || {audio: true, video: true};
    var out = {audio: trackConstraints(mc.audio), video: trackConstraints(mc.video)};
    if (mc.fake) out.fake = true;
    return out;
  }

  // Like the original's filterIceServersUrls: with `tt`, keep TURN URLs of that transport and
  // give the others without a transport one. STUN URLs stay as they are (browsers only do STUN
  // over UDP, and Chrome refuses `?transport=` on stun: URLs).
  function filterIceServers(servers, transport) {
    if (!transport) return servers;
    var want = 'transport=' + transport;
    var out = [];
    servers.forEach(function (server) {
      var urls = Array.isArray(server.urls) ? server.urls : [server.urls || server.url];
      var kept = [];
      urls.forEach(function (url) {
        if (typeof url !== 'string') return;
        if (/^stuns?:/.test(url) || url.indexOf(want) !== -1) kept.push(url);
        else if (url.indexOf('?transport=') === -1) kept.push(url + '?' + want);
      });
      if (kept.length) {
        var copy = Object.assign({}, server, {urls: kept});
        delete copy.url;
        out.push(copy);
      }
    });
    return out;
  }

  function candidateType(candidate) {
    var m = / typ (\w+)/.exec(candidate || '');
    return m ? m[1] : '';
  }

  // ---------------------------------------------------------------- landing page

  function renderLanding() {
    setBodyData('state', 'idle');
    var input = h('input', {
      id: 'room-id', type: 'text', name: 'room', autocomplete: 'off', autocapitalize: 'off',
      spellcheck: 'false', inputmode: 'text', required: true, minlength: String(MIN_ROOM_LENGTH),
      pattern: '[A-Za-z0-9_\\-]{' + MIN_ROOM_LENGTH + ',}', 'aria-describedby': 'room-hint'
    });
    input.value = randomRoomName();
    var join = h('button', {id: 'join', class: 'primary', type: 'submit', text: 'Join'});
    var hint = h('p', {id: 'room-hint', class: 'hint',
      text: 'At least ' + MIN_ROOM_LENGTH + ' characters: letters, digits, - or _.'});
    var form = h('form', {id: 'room-form', novalidate: true},
      h('label', {for: 'room-id', text: 'Room name'}),
      h('div', {class: 'row'}, input,
        h('button', {id: 'random-room', type: 'button', title: 'Another random name',
          'aria-label': 'Another random name', text: '\u21bb'})),
      hint, join);
    function check() {
      var ok = isValidRoom(input.value.trim());
      join.disabled = !ok;
      hint.classList.toggle('bad', !ok && input.value.length > 0);
      return ok;
    }
    input.addEventListener('input', check);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var room = input.value.trim();
      if (!check()) { input.focus(); return; }
      location.assign(ROOT + '/r/' + enc(room) + location.search);
    });
    var app = $('app');
    app.className = 'landing';
    app.textContent = '';
    app.appendChild(h('section', {class: 'card'},
      h('h1', {text: 'AppRTC'}),
      h('p', {text: 'Video calls between two people. Pick a room name, join, and send the ' +
        'room link to the other person.'}),
      form,
      notices(P.errorMessages, 'error'),
      notices(P.warningMessages, 'warning')));
    form.querySelector('#random-room').addEventListener('click', function () {
      input.value = randomRoomName();
      check();
    });
    check();
    if (!window.isSecureContext || !navigator.mediaDevices) {
      app.querySelector('.card').appendChild(h('p', {class: 'error', text: NEEDS_HTTPS}));
    }
  }

  // ---------------------------------------------------------------- call page

  var STATUS_TEXT = {
    idle: 'You are not in the call.',
    joining: 'Joining the room\u2026',
    waiting: 'Waiting for someone to join. Send them the room link.',
    connecting: 'Connecting\u2026',
    connected: 'Connected.',
    'peer-left': 'The other person left. Waiting for someone to join.',
    error: 'Something went wrong.'
  };

  function Call(ui) {
    this.ui = ui;
    this.roomId = P.roomId;
    this.clientId = null;
    this.isInitiator = false;
    this.savedMessages = [];
    this.ws = null;
    this.registered = false;
    this.pc = null;
    this.remoteSet = false;
    this.pendingCandidates = [];
    this.early = [];
    this.recvChain = Promise.resolve();
    this.sendChain = Promise.resolve();
    this.localStream = null;
    this.iceServers = [];
    this.loopback = null;
    this.gen = 0;
    this.restarting = null;
    this.gaveUp = null;
    this.state = 'idle';
    this.facing = 'user';
  }

  Call.prototype.setState = function (state, text) {
    this.state = state;
    setBodyData('state', state);
    this.ui.status(text || STATUS_TEXT[state], state);
    trace('state', state, text || '');
  };

  Call.prototype.fail = function (text) {
    this.setState('error', text);
  };

  // Join: media, ICE servers, /join and the WebSocket in parallel; register once joined and the
  // socket is open; start signaling once media and ICE servers are there too (spec §5.1).
  Call.prototype.start = function () {
    var self = this;
    var gen = ++this.gen;
    this.setState('joining');
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.fail(NEEDS_HTTPS);
      return Promise.resolve();
    }
    if (typeof RTCPeerConnection === 'undefined') {
      this.fail('This browser cannot make video calls (no WebRTC).');
      return Promise.resolve();
    }
    var media = this.getMedia(gen);
    var ice = this.fetchIceServers();
    var channel = this.openChannel(gen);
    var joined = this.join(gen);
    return Promise.all([channel, joined]).then(function () {
      if (gen !== self.gen) return;
      self.register();
      if (P.isLoopback) self.loopback = new Loopback(self);
      if (self.isInitiator) self.setState('waiting');
      return Promise.all([ice, media]).then(function (results) {
        if (gen !== self.gen) return;
        self.iceServers = results[0];
        self.startSignaling();
      });
    }).catch(function (e) {
      if (gen !== self.gen || (e && e.quiet)) return;
      trace('start failed', e);
      self.fail(e && e.message ? e.message : String(e));
    });
  };

  Call.prototype.getMedia = function (gen) {
    var self = this;
    var constraints = mediaConstraints();
    if (!constraints.audio && !constraints.video) return Promise.resolve(null);
    return navigator.mediaDevices.getUserMedia(constraints).catch(function (e) {
      trace('getUserMedia failed', e);
      // Missing or busy camera: try with what exists, like the original.
      if (['NotFoundError', 'NotReadableError', 'OverconstrainedError'].indexOf(e.name) === -1) throw e;
      return navigator.mediaDevices.enumerateDevices().then(function (devices) {
        var has = function (kind) { return devices.some(function (d) { return d.kind === kind; }); };
        var fallback = {
          audio: has('audioinput') && constraints.audio,
          video: has('videoinput') && (e.name === 'OverconstrainedError' ? true : constraints.video)
        };
        if (!fallback.audio && !fallback.video) throw e;
        return navigator.mediaDevices.getUserMedia(fallback);
      });
    }).then(function (stream) {
      if (gen !== self.gen) {
        stream.getTracks().forEach(function (t) { t.stop(); });
        return null;
      }
      self.localStream = stream;
      var video = stream.getVideoTracks()[0];
      var facing = video && video.getSettings ? video.getSettings().facingMode : '';
      self.facing = facing || 'user';
      self.ui.showLocal(stream, self.facing !== 'environment');
      self.ui.updateSwitch();
      return stream;
    }).catch(function (e) {
      if (gen !== self.gen) return null;
      var why = e.name === 'NotAllowedError' ? 'permission was refused'
        : e.name === 'NotFoundError' ? 'no camera or microphone found' : (e.name || String(e));
      self.ui.notice('Camera and microphone are not available (' + why +
        '). You can still see and hear the other person.', 'warning');
      return null;
    });
  };

  Call.prototype.fetchIceServers = function () {
    var cfg = P.peerConnectionConfig || {};
    var configured = cfg.iceServers || [];
    if (configured.length > 0 || !P.iceServerRequestUrl) return Promise.resolve(configured);
    var self = this;
    return fetch(P.iceServerRequestUrl, {method: 'POST'}).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (body) {
      var servers = filterIceServers(body.iceServers || [], P.iceServerTransports);
      trace('ICE servers', servers.map(function (s) { return s.urls; }));
      return configured.concat(servers);
    }).catch(function (e) {
      trace('ICE server request failed', e);
      self.ui.notice('No TURN server; unlikely that media will traverse networks.', 'warning');
      return configured;
    });
  };

  Call.prototype.join = function (gen) {
    var self = this;
    var room = this.roomId;
    // A 503 is a passing fault of the room store: retried a few times, as its Retry-After says.
    var retries = 0;
    function post() {
      return fetch(ROOT + '/join/' + enc(room) + location.search, {method: 'POST'}).then(function (res) {
        if (res.status !== 503 || retries >= 3 || gen !== self.gen) return res;
        retries += 1;
        var wait = Math.min(Number(res.headers.get('Retry-After')) || 1, 5);
        trace('join: service unavailable, retrying in', wait, 's');
        return new Promise(function (done) { setTimeout(done, wait * 1000); }).then(post);
      });
    }
    return post().then(function (res) {
      if (!res.ok) throw new Error('Could not join the room (HTTP ' + res.status + ').');
      return res.json();
    }).then(function (body) {
      if (body.result === 'FULL') {
        // The room page shows "Room full" when it is full; guard against a reload loop in the
        // unlikely case that the page and /join disagree.
        var key = 'apprtc-full-' + room;
        var last = Number(sessionStorage.getItem(key) || 0);
        if (Date.now() - last > 10000) {
          sessionStorage.setItem(key, String(Date.now()));
          location.assign(ROOT + '/r/' + enc(room) + location.search);
          var quiet = new Error('room full');
          quiet.quiet = true;
          throw quiet;
        }
        throw new Error('Room full: this room already has two people in it.');
      }
      if (body.result !== 'SUCCESS') throw new Error('Could not join the room (' + body.result + ').');
      var p = body.params;
      if (gen !== self.gen) {
        // Hung up while joining: give the place back.
        fetch(ROOT + '/leave/' + enc(room) + '/' + enc(p.client_id), {method: 'POST'}).catch(function () {});
        var stale = new Error('stale join');
        stale.quiet = true;
        throw stale;
      }
      self.clientId = p.client_id;
      self.isInitiator = p.is_initiator === 'true';
      self.savedMessages = p.messages || [];
      trace('joined', {client: p.client_id, initiator: self.isInitiator, saved: self.savedMessages.length});
    });
  };

  // ------------------------------------------------------------ signaling channel (WebSocket)

  Call.prototype.openChannel = function (gen) {
    var self = this;
    return new Promise(function (resolve, reject) {
      var ws;
      try {
        ws = new WebSocket(P.wssUrl);
      } catch (e) {
        reject(new Error('Cannot reach the signaling server: ' + e.message));
        return;
      }
      if (gen !== self.gen) { ws.close(); return; }
      self.ws = ws;
      var opened = false;
      ws.onopen = function () { opened = true; trace('websocket open'); resolve(); };
      ws.onerror = function () {
        if (!opened) reject(new Error('Cannot reach the signaling server.'));
      };
      ws.onmessage = function (ev) { if (self.ws === ws) self.onFrame(ev.data); };
      ws.onclose = function (ev) {
        if (!opened) reject(new Error('Cannot reach the signaling server.'));
        if (self.ws !== ws) return;
        trace('websocket closed', ev.code);
        self.ws = null;
        self.registered = false;
        self.reconnect(gen);
      };
    });
  };

  // The relay keeps our place for a few seconds after the socket drops (network change on a
  // phone), so try to register the same id again.
  Call.prototype.reconnect = function (gen) {
    var self = this;
    if (!this.clientId || gen !== this.gen) return;
    setTimeout(function () {
      if (!self.clientId || gen !== self.gen || self.ws) return;
      trace('reconnecting the websocket');
      self.openChannel(gen).then(function () {
        if (gen === self.gen && self.clientId) self.register();
      }).catch(function (e) { trace('reconnect failed', e); });
    }, 1000);
  };

  Call.prototype.register = function () {
    this.ws.send(JSON.stringify({cmd: 'register', roomid: this.roomId, clientid: this.clientId}));
    this.registered = true;
    trace('registered');
  };

  Call.prototype.onFrame = function (data) {
    var frame;
    try { frame = JSON.parse(data); } catch (e) { trace('bad frame', data); return; }
    if (!frame || typeof frame !== 'object') return;
    if (frame.error) { trace('relay error', frame.error); return; }
    if (typeof frame.msg !== 'string' || !frame.msg) return;
    this.onSignal(frame.msg);
  };

  // Joiner (and the loopback peer): over the socket once registered, else collider POST.
  Call.prototype.channelSend = function (text) {
    if (!this.clientId) { trace('not joined; dropped', text.slice(0, 40)); return; }
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.registered) {
      this.ws.send(JSON.stringify({cmd: 'send', msg: text}));
      return;
    }
    fetch(P.wssPostUrl + '/' + enc(this.roomId) + '/' + enc(this.clientId), {method: 'POST', body: text})
      .catch(function (e) { trace('relay POST failed', e); });
  };

  // Initiator: through the room server, which keeps the messages until the peer joins. Sent in
  // order, one after the other.
  Call.prototype.sendSignal = function (msg) {
    var text = JSON.stringify(msg);
    if (!this.isInitiator) { this.channelSend(text); return; }
    var url = ROOT + '/message/' + enc(this.roomId) + '/' + enc(this.clientId) + location.search;
    this.sendChain = this.sendChain.then(function () {
      return fetch(url, {method: 'POST', body: text}).then(function (res) {
        return res.json();
      }).then(function (body) {
        if (body.result !== 'SUCCESS') trace('message not accepted', body.result, msg.type);
      });
    }).catch(function (e) { trace('POST /message failed', e); });
  };

  // ------------------------------------------------------------ peer connection

  Call.prototype.pcConfig = function () {
    var cfg = Object.assign({}, P.peerConnectionConfig || {});
    cfg.iceServers = this.iceServers;
    if (cfg.iceTransports) {
      cfg.iceTransportPolicy = cfg.iceTransports;
      delete cfg.iceTransports;
    }
    return cfg;
  };

  Call.prototype.relayOnly = function () {
    var cfg = P.peerConnectionConfig || {};
    return cfg.iceTransports === 'relay' || cfg.iceTransportPolicy === 'relay';
  };

  // The original drops TCP candidates, and non-relay ones with it=relay.
  Call.prototype.keepCandidate = function (candidate) {
    if (!candidate || candidate.indexOf('tcp') !== -1) return false;
    return !(this.relayOnly() && candidateType(candidate) !== 'relay');
  };

  Call.prototype.startSignaling = function () {
    var self = this;
    var pc;
    try {
      pc = new RTCPeerConnection(this.pcConfig());
    } catch (e) {
      this.fail('Cannot create the connection: ' + e.message);
      return;
    }
    this.pc = pc;
    this.remoteSet = false;
    this.pendingCandidates = [];
    setBodyData('ice', pc.iceConnectionState);
    pc.onicecandidate = function (ev) {
      if (self.pc !== pc || !ev.candidate || !ev.candidate.candidate) return;
      if (!self.keepCandidate(ev.candidate.candidate)) return;
      self.sendSignal({
        type: 'candidate', label: ev.candidate.sdpMLineIndex, id: ev.candidate.sdpMid,
        candidate: ev.candidate.candidate
      });
    };
    pc.ontrack = function (ev) {
      if (self.pc !== pc) return;
      var stream = ev.streams && ev.streams[0];
      if (!stream) {
        stream = self.ui.remoteStream() || new MediaStream();
        stream.addTrack(ev.track);
      }
      self.ui.showRemote(stream);
    };
    pc.oniceconnectionstatechange = function () { self.onIceState(pc); };
    var kinds = {};
    if (this.localStream) {
      this.localStream.getTracks().forEach(function (track) {
        pc.addTrack(track, self.localStream);
        kinds[track.kind] = true;
      });
    }
    if (this.isInitiator) {
      // Receive both kinds even without a camera or microphone.
      ['audio', 'video'].forEach(function (kind) {
        if (!kinds[kind]) pc.addTransceiver(kind, {direction: 'recvonly'});
      });
      this.makeOffer(pc);
    } else {
      // The initiator's saved messages, offer first (spec §5.2).
      var saved = this.savedMessages.slice();
      this.savedMessages = [];
      saved.sort(function (a, b) { return isSdp(b) - isSdp(a); });
      saved.forEach(function (m) { self.onSignal(m); });
      this.setState('connecting');
    }
    var early = this.early;
    this.early = [];
    early.forEach(function (m) { self.onSignal(m); });
  };

  function isSdp(text) {
    return /"type"\s*:\s*"(offer|answer)"/.test(text) ? 1 : 0;
  }

  Call.prototype.makeOffer = function (pc) {
    var self = this;
    pc.createOffer(P.offerOptions || {}).then(function (offer) {
      if (self.pc !== pc) return;
      return pc.setLocalDescription(offer).then(function () {
        self.sendSignal({sdp: offer.sdp, type: 'offer'});
      });
    }).catch(function (e) {
      if (self.pc === pc) self.fail('Cannot start the call: ' + e.message);
    });
  };

  Call.prototype.onSignal = function (text) {
    var self = this;
    if (/"type"\s*:\s*"bye"/.test(text)) trace('bye arrived');
    if (!this.pc) { this.early.push(text); return; }
    var pc = this.pc;
    this.recvChain = this.recvChain.then(function () {
      return self.process(pc, text);
    }).catch(function (e) { trace('signaling message failed', e); });
  };

  Call.prototype.process = function (pc, text) {
    var self = this;
    var m;
    try { m = JSON.parse(text); } catch (e) { trace('not JSON', text.slice(0, 60)); return; }
    if (!m || typeof m !== 'object') return;
    if (m.type !== 'candidate') trace('received', m.type);
    if (m.type === 'bye') { this.onRemoteHangup(); return; }
    if (pc !== this.pc) return;
    switch (m.type) {
      case 'offer':
      case 'answer':
        if ((m.type === 'offer') === this.isInitiator) { trace('ignored', m.type); return; }
        if (m.type === 'offer' && this.remoteSet) this.onRestartOffer(pc);
        return pc.setRemoteDescription({type: m.type, sdp: m.sdp}).then(function () {
          self.remoteSet = true;
          var pending = self.pendingCandidates;
          self.pendingCandidates = [];
          return Promise.all(pending.map(function (c) { return self.addCandidate(pc, c); }));
        }).then(function () {
          if (m.type === 'answer') self.restartSettled(pc);
          if (self.state !== 'connected') self.setState('connecting');
          if (m.type !== 'offer') return;
          return pc.createAnswer().then(function (answer) {
            return pc.setLocalDescription(answer).then(function () {
              if (self.pc !== pc) return;
              self.sendSignal({sdp: answer.sdp, type: 'answer'});
              self.restartSettled(pc);
            });
          });
        });
      case 'candidate':
        if (!this.keepCandidate(m.candidate)) return;
        var init = {candidate: m.candidate};
        if (typeof m.label === 'number') init.sdpMLineIndex = m.label;
        else init.sdpMid = String(m.id);
        if (!this.remoteSet) { this.pendingCandidates.push(init); return; }
        return this.addCandidate(pc, init);
      default:
        trace('ignored message type', m.type); // remove-candidates, as the original web client
    }
  };

  Call.prototype.addCandidate = function (pc, init) {
    return pc.addIceCandidate(init).catch(function (e) { trace('addIceCandidate failed', e); });
  };

  // ICE restart (docs/protocol.md §8.1). A connection that fails, or stays disconnected for
  // restartAfterDisconnectedMs, gets new ICE credentials and candidates: the side that made
  // the offer sends a new offer with iceRestart through the usual path, the other side answers
  // it as any offer. Only when that attempt fails too (ICE fails again, or no connection within
  // restartWaitMs) is the user asked to rejoin. Tests shorten both through
  // window.__apprtc.timing rather than wait them out.
  var timing = {restartAfterDisconnectedMs: 4000, restartWaitMs: 30000};

  Call.prototype.onIceState = function (pc) {
    if (pc !== this.pc) return;
    var self = this;
    var s = pc.iceConnectionState;
    setBodyData('ice', s);
    trace('ice', s);
    if (s !== 'disconnected') {
      clearTimeout(this.disconnectTimer);
      this.disconnectTimer = null;
    }
    if (s === 'checking') {
      if (this.state !== 'connected') this.setState('connecting');
    } else if (s === 'connected' || s === 'completed') {
      if (this.restarting) {
        trace('ICE restart worked');
        this.endRestart();
      }
      if (this.state !== 'connected') this.setState('connected');
    } else if (s === 'disconnected') {
      this.setState('connecting', 'Connection interrupted; trying to recover\u2026');
      if (!this.disconnectTimer) {
        this.disconnectTimer = setTimeout(function () {
          self.disconnectTimer = null;
          if (self.pc === pc && pc.iceConnectionState === 'disconnected') self.restartIce('disconnected');
        }, timing.restartAfterDisconnectedMs);
      }
    } else if (s === 'failed') {
      if (this.restarting && this.restarting.offered) this.giveUp();
      else this.restartIce('failed');
    }
  };

  // Starts one ICE restart for the current connection (or waits for the other side's, when it
  // did not make the offer). Exposed to tests as window.__apprtc.restartIce().
  Call.prototype.restartIce = function (why) {
    var self = this;
    var pc = this.pc;
    if (!pc || pc.signalingState === 'closed') return false;
    if (this.restarting) return false;
    this.beginRestart(pc, this.isInitiator);
    if (!this.isInitiator) {
      // Unmodified clients never offer as the joiner, and the initiator ignores offers; the
      // initiator sees the same failure and restarts.
      trace('ICE', why, '- waiting for the other side to restart ICE');
      return true;
    }
    trace('ICE', why, '- restarting ICE with a new offer');
    pc.createOffer(Object.assign({}, P.offerOptions || {}, {iceRestart: true})).then(function (offer) {
      if (self.pc !== pc) return;
      return pc.setLocalDescription(offer).then(function () {
        trace('sent offer (ICE restart)');
        self.sendSignal({sdp: offer.sdp, type: 'offer'});
      });
    }).catch(function (e) {
      trace('ICE restart offer failed', e);
      if (self.pc === pc) self.giveUp();
    });
    return true;
  };

  // A new offer on a connection that already had one is the other side's ICE restart. Each side
  // notices the lost path on its own clock, so the offer can come late: while this side is still
  // waiting, the wait starts over from the offer; after this side has given up, the offer is a
  // fresh attempt and gets its own wait, so a restart that works still recovers the call.
  Call.prototype.onRestartOffer = function (pc) {
    if (!this.restarting && this.gaveUp !== pc) return;
    trace('ICE restart offer from the other side');
    this.beginRestart(pc, false);
  };

  // One restart attempt: the user is told, and it has restartWaitMs to reconnect.
  Call.prototype.beginRestart = function (pc, offered) {
    var self = this;
    clearTimeout(this.restartTimer);
    this.gaveUp = null;
    this.restarting = {offered: offered, gen: this.gen};
    this.restartTimer = setTimeout(function () {
      if (self.pc === pc && self.restarting) self.giveUp();
    }, timing.restartWaitMs);
    this.setState('connecting', 'Connection lost; reconnecting\u2026');
  };

  // Both descriptions of a restart are set. If the old path still works, ICE stays connected and
  // moves over without another state change, so the restart is over now.
  Call.prototype.restartSettled = function (pc) {
    if (!this.restarting || !isConnected(pc)) return;
    trace('ICE restart worked');
    this.endRestart();
    this.setState('connected');
  };

  Call.prototype.endRestart = function () {
    clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.restarting = null;
  };

  Call.prototype.giveUp = function () {
    trace('ICE restart did not reconnect');
    this.endRestart();
    this.gaveUp = this.pc;
    this.fail('Could not reconnect to the other person (the network may block it). ' +
      'Hang up and rejoin to try again.');
  };

  Call.prototype.closePc = function () {
    clearTimeout(this.disconnectTimer);
    this.disconnectTimer = null;
    this.endRestart();
    this.gaveUp = null;
    if (this.pc) {
      this.pc.onicecandidate = this.pc.ontrack = this.pc.oniceconnectionstatechange = null;
      this.pc.close();
      this.pc = null;
      setBodyData('ice', 'closed');
    }
    this.remoteSet = false;
    this.pendingCandidates = [];
    this.early = [];
    this.ui.showRemote(null);
  };

  // The other side sent bye: start over as the caller, so the next person who joins gets our
  // offer from the room server (spec §5.1 step 9).
  Call.prototype.onRemoteHangup = function () {
    trace('remote hung up');
    if (!this.clientId) return;
    this.closePc();
    this.isInitiator = true;
    this.setState('peer-left');
    this.startSignaling();
  };

  Call.prototype.stopLocal = function () {
    if (this.localStream) {
      this.localStream.getTracks().forEach(function (t) { t.stop(); });
      this.localStream = null;
    }
    this.ui.showLocal(null);
  };

  // Hang-up: /leave first (so the room server saves the other side's next offer), then bye,
  // then close the socket and DELETE our place on the relay (spec §5.1 step 7).
  Call.prototype.hangup = function () {
    var room = this.roomId;
    var client = this.clientId;
    var ws = this.ws;
    this.gen++;
    this.closePc();
    this.stopLocal();
    if (this.loopback) { this.loopback.close(); this.loopback = null; }
    this.ws = null;
    this.registered = false;
    this.clientId = null;
    this.setState('idle', 'You left the call.');
    if (!client) {
      if (ws) ws.close();
      return Promise.resolve();
    }
    var relayUrl = P.wssPostUrl + '/' + enc(room) + '/' + enc(client);
    var bye = JSON.stringify({type: 'bye'});
    return fetch(ROOT + '/leave/' + enc(room) + '/' + enc(client), {method: 'POST'})
      .catch(function (e) { trace('/leave failed', e); })
      .then(function () {
        if (ws && ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify({cmd: 'send', msg: bye}));
          return;
        }
        return fetch(relayUrl, {method: 'POST', body: bye}).catch(function () {});
      })
      .then(function () {
        if (ws) ws.close();
        return fetch(relayUrl, {method: 'DELETE'}).catch(function (e) { trace('DELETE failed', e); });
      });
  };

  // The page is going away: the same steps, with requests the browser finishes after the page
  // is gone (synchronous XHR is refused during unload).
  Call.prototype.leaveOnUnload = function () {
    var room = this.roomId;
    var client = this.clientId;
    var ws = this.ws;
    if (!client) return;
    this.gen++;
    this.clientId = null;
    this.ws = null;
    var leaveUrl = ROOT + '/leave/' + enc(room) + '/' + enc(client);
    var sent = false;
    try { sent = navigator.sendBeacon && navigator.sendBeacon(leaveUrl); } catch (e) { sent = false; }
    if (!sent) fetch(leaveUrl, {method: 'POST', keepalive: true}).catch(function () {});
    try {
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({cmd: 'send', msg: JSON.stringify({type: 'bye'})}));
      }
      if (ws) ws.close();
    } catch (e) { /* the page is going away anyway */ }
    fetch(P.wssPostUrl + '/' + enc(room) + '/' + enc(client), {method: 'DELETE', keepalive: true})
      .catch(function () {});
    if (this.loopback) { this.loopback.close(); this.loopback = null; }
    if (this.pc) { this.pc.close(); this.pc = null; }
  };

  Call.prototype.toggleAudio = function () {
    var tracks = this.localStream ? this.localStream.getAudioTracks() : [];
    if (!tracks.length) return null;
    var muted = tracks[0].enabled;
    tracks.forEach(function (t) { t.enabled = !muted; });
    return muted;
  };

  Call.prototype.toggleVideo = function () {
    var tracks = this.localStream ? this.localStream.getVideoTracks() : [];
    if (!tracks.length) return null;
    var off = tracks[0].enabled;
    tracks.forEach(function (t) { t.enabled = !off; });
    this.cameraOff = off;
    return off;
  };

  // Front/back camera on phones (facingMode); on other devices the next camera in the list.
  Call.prototype.switchCamera = function () {
    var next = this.facing === 'environment' ? 'user' : 'environment';
    return this.changeCamera(function (c) {
      return c.attempt('facing ' + next, {facingMode: {exact: next}}).then(function (kept) {
        return kept || c.others().then(c.tryEach);
      });
    }, 'No other camera gives a picture the call can send; back to the previous camera.', next);
  };

  // The camera picker: that camera, or the previous one back when it gives nothing to send.
  Call.prototype.selectCamera = function (deviceId) {
    var old = this.localStream && this.localStream.getVideoTracks()[0];
    if (old && old.getSettings && old.getSettings().deviceId === deviceId) return Promise.resolve();
    return this.changeCamera(function (c) {
      return c.tryEach([deviceId]);
    }, 'That camera gives no picture the call can send; back to the previous camera.', 'user');
  };

  // Replaces the camera by the first that `plan` keeps. Some cameras (infrared and depth
  // cameras listed as video inputs, Chromium's 16-bit fake device) give frames that the preview
  // shows but the encoder never sends. In a call each camera tried must get frames through the
  // encoder (checkFramesSent); one that does not is left for the next, and when none works the
  // previous camera comes back and the status line says `failText`. Outside a call (or with the
  // camera off, when only black frames are sent) a change just changes the preview. `facing` is
  // the guess for a new camera that does not say which way it faces.
  Call.prototype.changeCamera = function (plan, failText, facing) {
    var self = this;
    var stream = this.localStream;
    var old = stream && stream.getVideoTracks()[0];
    if (!old) return Promise.resolve();
    var oldDevice = old.getSettings ? old.getSettings().deviceId : undefined;
    var oldFacing = this.facing;
    var base = mediaConstraints().video;
    base = typeof base === 'object' ? Object.assign({}, base) : {};
    delete base.facingMode;
    delete base.deviceId;
    var current = old;
    var tried = {};
    if (oldDevice) tried[oldDevice] = true;
    var gone = new Error('the call ended during the switch');
    gone.quiet = true;

    function open(extra) {
      // Phones often cannot open two cameras at once: release the current one first.
      current.stop();
      return navigator.mediaDevices.getUserMedia({video: Object.assign({}, base, extra)})
        .then(function (fresh) { return fresh.getVideoTracks()[0]; });
    }
    // Puts `track` where the current one is (preview and senders); resolves to the senders
    // whose frames are worth checking: those of connected calls, with the camera on.
    function use(track) {
      if (self.localStream !== stream) { track.stop(); throw gone; }
      track.enabled = !self.cameraOff;
      var senders = self.sendersOf(current);
      stream.removeTrack(current);
      stream.addTrack(track);
      current = track;
      var settings = track.getSettings ? track.getSettings() : {};
      self.facing = settings.facingMode ||
        (settings.deviceId !== oldDevice ? facing : oldFacing);
      self.ui.showLocal(stream, self.facing !== 'environment');
      return Promise.all(senders.map(function (s) {
        // A connection closed meanwhile (the peer left) has nothing to switch.
        return s.sender.replaceTrack(track).catch(function (e) { trace('replaceTrack', e); });
      })).then(function () {
        if (self.cameraOff) return [];
        return senders.filter(function (s) { return isConnected(s.pc); })
          .map(function (s) { return s.sender; });
      });
    }
    // Opens and uses one camera; resolves to whether it is kept.
    function attempt(what, extra) {
      return open(extra).then(function (track) {
        var id = track.getSettings ? track.getSettings().deviceId : undefined;
        if (id && tried[id]) { track.stop(); return false; }
        if (id) tried[id] = true;
        return use(track).then(function (senders) {
          if (!senders.length) return true;
          return self.checkFramesSent(senders).then(function (sent) {
            if (!sent) trace('camera', what, 'gives no frames the call can send');
            return sent;
          });
        });
      }, function (e) {
        trace('camera', what, 'not opened', e);
        return false;
      });
    }
    function others() {
      return navigator.mediaDevices.enumerateDevices().then(function (devices) {
        var cams = devices.filter(function (d) { return d.kind === 'videoinput'; });
        var i = cams.findIndex(function (d) { return d.deviceId === oldDevice; });
        // The cameras after the current one in the list, then those before it.
        return cams.slice(i + 1).concat(cams.slice(0, Math.max(i, 0)))
          .map(function (d) { return d.deviceId; });
      });
    }
    function tryEach(ids) {
      if (!ids.length) return Promise.resolve(false);
      var id = ids.shift();
      if (tried[id]) return tryEach(ids);
      return attempt(id.slice(0, 8), {deviceId: {exact: id}}).then(function (kept) {
        return kept || tryEach(ids);
      });
    }

    return plan({attempt: attempt, others: others, tryEach: tryEach}).then(function (kept) {
      if (kept) {
        // Clears what an earlier refused camera left in the status line.
        if (self.state === 'connected') self.ui.status(STATUS_TEXT.connected, self.state);
        return;
      }
      trace('no other camera works; back to the previous one');
      return open(oldDevice ? {deviceId: {exact: oldDevice}} : {}).then(use).then(function () {
        self.ui.status(failText, self.state);
      });
    }).catch(function (e) {
      if (e === gone) return;
      trace('camera lost', e);
      self.ui.notice('The camera stopped: ' + e.message, 'warning');
    }).then(function () {
      self.ui.updateDevices();
    });
  };

  // The microphone picker: the new microphone replaces the old one in the preview stream and
  // in every sender (RTCRtpSender.replaceTrack), keeping the mute state.
  Call.prototype.selectMicrophone = function (deviceId) {
    var self = this;
    var stream = this.localStream;
    var old = stream && stream.getAudioTracks()[0];
    if (!old) return Promise.resolve();
    if (old.getSettings && old.getSettings().deviceId === deviceId) return Promise.resolve();
    var base = mediaConstraints().audio;
    base = typeof base === 'object' ? Object.assign({}, base) : {};
    base.deviceId = {exact: deviceId};
    return navigator.mediaDevices.getUserMedia({audio: base}).then(function (fresh) {
      var track = fresh.getAudioTracks()[0];
      if (self.localStream !== stream) { track.stop(); return; }
      track.enabled = old.enabled;
      var senders = self.sendersOf(old);
      stream.removeTrack(old);
      stream.addTrack(track);
      old.stop();
      trace('microphone', deviceId.slice(0, 8));
      return Promise.all(senders.map(function (s) {
        return s.sender.replaceTrack(track).catch(function (e) { trace('replaceTrack', e); });
      }));
    }).catch(function (e) {
      trace('microphone not opened', e);
      self.ui.notice('That microphone cannot be used: ' + (e.message || e.name), 'warning');
    }).then(function () {
      self.ui.updateDevices();
    });
  };

  // The senders of `track` in the call and in the loopback peer, with their connections.
  Call.prototype.sendersOf = function (track) {
    var out = [];
    [this.pc, this.loopback && this.loopback.pc].forEach(function (pc) {
      if (!pc) return;
      pc.getSenders().forEach(function (sender) {
        if (sender.track === track) out.push({pc: pc, sender: sender});
      });
    });
    return out;
  };

  function isConnected(pc) {
    var s = pc.iceConnectionState;
    return s === 'connected' || s === 'completed';
  }

  // Whether every sender gets CAMERA_CHECK_FRAMES more frames through its encoder
  // (outbound-rtp framesEncoded, or framesSent) within CAMERA_CHECK_MS.
  var CAMERA_CHECK_MS = 4000;
  var CAMERA_CHECK_POLL_MS = 250;
  var CAMERA_CHECK_FRAMES = 3;
  Call.prototype.checkFramesSent = function (senders) {
    function frames(sender) {
      return sender.getStats().then(function (report) {
        var n = 0;
        report.forEach(function (r) {
          if (r.type !== 'outbound-rtp') return;
          n += typeof r.framesEncoded === 'number' ? r.framesEncoded : (r.framesSent || 0);
        });
        return n;
      }).catch(function () { return 0; });
    }
    function count() { return Promise.all(senders.map(frames)); }
    var deadline = Date.now() + CAMERA_CHECK_MS;
    return count().then(function (first) {
      function poll() {
        return new Promise(function (done) { setTimeout(done, CAMERA_CHECK_POLL_MS); })
          .then(count)
          .then(function (now) {
            var sent = now.every(function (n, i) { return n >= first[i] + CAMERA_CHECK_FRAMES; });
            if (sent || Date.now() >= deadline) {
              trace(sent ? 'frames sent' : 'too few frames sent', first, '->', now);
              return sent;
            }
            return poll();
          });
      }
      return poll();
    });
  };

  // The candidate pair in use, from a getStats() report: the transport's selected pair, else
  // (browsers without that field) the pair marked selected or nominated and succeeded.
  function selectedPair(stats) {
    var pair = null;
    stats.forEach(function (r) {
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId) || pair;
    });
    if (!pair) {
      stats.forEach(function (r) {
        if (!pair && r.type === 'candidate-pair' && (r.selected || (r.nominated && r.state === 'succeeded'))) pair = r;
      });
    }
    return pair;
  }

  // ICE candidate types of the pair in use, e.g. {local: 'host', remote: 'srflx'}, or null.
  Call.prototype.selectedCandidateType = function () {
    var pc = this.pc;
    if (!pc) return Promise.resolve(null);
    return pc.getStats().then(function (stats) {
      var pair = selectedPair(stats);
      if (!pair) return null;
      var local = stats.get(pair.localCandidateId);
      var remote = stats.get(pair.remoteCandidateId);
      return {local: local ? local.candidateType : null, remote: remote ? remote.candidateType : null};
    });
  };

  // One sample for the stats panel, from RTCPeerConnection.getStats(): the candidate pair in
  // use, its round-trip time, media bitrates from the RTP byte counters since the previous
  // sample, the video sizes and frame rates both ways, codecs and received packets lost.
  Call.prototype.sampleStats = function () {
    var self = this;
    var pc = this.pc;
    if (!pc) { this.statsPrev = null; return Promise.resolve(null); }
    return pc.getStats().then(function (stats) {
      var out = {pair: null, rttMs: null, inKbps: null, outKbps: null, videoIn: null, videoOut: null,
        codecs: {}, packetsLost: 0, packetsReceived: 0};
      var pair = selectedPair(stats);
      if (pair) {
        var local = stats.get(pair.localCandidateId) || {};
        var remote = stats.get(pair.remoteCandidateId) || {};
        out.pair = {local: local.candidateType || null, remote: remote.candidateType || null,
          protocol: local.protocol || remote.protocol || null,
          relayProtocol: local.candidateType === 'relay' ? (local.relayProtocol || null) : null};
        if (typeof pair.currentRoundTripTime === 'number') out.rttMs = pair.currentRoundTripTime * 1000;
      }
      var bytesIn = 0, bytesOut = 0, at = 0;
      function codec(r) {
        var c = r.codecId && stats.get(r.codecId);
        return c && c.mimeType ? c.mimeType.split('/')[1] : null;
      }
      function video(r) {
        return {width: r.frameWidth || 0, height: r.frameHeight || 0,
          fps: typeof r.framesPerSecond === 'number' ? r.framesPerSecond : null};
      }
      stats.forEach(function (r) {
        var kind = r.kind || r.mediaType;
        if (r.type === 'inbound-rtp') {
          bytesIn += r.bytesReceived || 0;
          at = Math.max(at, r.timestamp);
          out.packetsLost += Math.max(r.packetsLost || 0, 0);
          out.packetsReceived += r.packetsReceived || 0;
          if (kind === 'video' && (r.frameWidth || !out.videoIn)) out.videoIn = video(r);
          if (codec(r)) out.codecs[kind + 'In'] = codec(r);
        } else if (r.type === 'outbound-rtp') {
          bytesOut += r.bytesSent || 0;
          at = Math.max(at, r.timestamp);
          // Simulcast gives one per layer: the largest is the one to show.
          if (kind === 'video' && (!out.videoOut || (r.frameWidth || 0) > out.videoOut.width)) out.videoOut = video(r);
          if (codec(r)) out.codecs[kind + 'Out'] = codec(r);
        }
      });
      var prev = self.statsPrev;
      if (prev && prev.pc === pc && at > prev.at) {
        var secs = (at - prev.at) / 1000;
        out.inKbps = Math.max(bytesIn - prev.bytesIn, 0) * 8 / 1000 / secs;
        out.outKbps = Math.max(bytesOut - prev.bytesOut, 0) * 8 / 1000 / secs;
      }
      self.statsPrev = {pc: pc, at: at, bytesIn: bytesIn, bytesOut: bytesOut};
      return out;
    });
  };

  // ------------------------------------------------------------ debug=loopback

  // The second member of a loopback room, inside this page: its own WebSocket registered as
  // `loopback_client_id` and a second RTCPeerConnection that answers our offer and sends our
  // own camera back, so the remote video shows this page's camera.
  function Loopback(call) {
    var self = this;
    this.call = call;
    this.pc = null;
    this.remoteSet = false;
    this.pending = [];
    this.chain = Promise.resolve();
    this.ws = new WebSocket(P.wssUrl);
    this.ws.onopen = function () {
      self.ws.send(JSON.stringify({cmd: 'register', roomid: call.roomId, clientid: LOOPBACK_CLIENT_ID}));
      trace('loopback registered');
    };
    this.ws.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (!frame || frame.error || typeof frame.msg !== 'string') return;
      self.chain = self.chain.then(function () { return self.onMessage(frame.msg); })
        .catch(function (e) { trace('loopback failed', e); });
    };
  }

  function sessionId(sdp) {
    var m = /^o=\S+ (\d+) /m.exec(sdp || '');
    return m ? m[1] : null;
  }

  Loopback.prototype.send = function (msg) {
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({cmd: 'send', msg: JSON.stringify(msg)}));
    }
  };

  Loopback.prototype.onMessage = function (text) {
    var self = this;
    var m = JSON.parse(text);
    if (m.type === 'offer') {
      // The same session (the o= line's id) offering again is a renegotiation, e.g. an ICE
      // restart: answered on the same connection. Another session is a new call.
      var session = sessionId(m.sdp);
      if (this.pc && session && session === this.session && this.pc.signalingState === 'stable') {
        var same = this.pc;
        return same.setRemoteDescription({type: 'offer', sdp: m.sdp}).then(function () {
          return same.createAnswer();
        }).then(function (answer) {
          return same.setLocalDescription(answer).then(function () {
            self.send({sdp: answer.sdp, type: 'answer'});
          });
        });
      }
      this.session = session;
      if (this.pc) this.pc.close();
      var pc = this.pc = new RTCPeerConnection(this.call.pcConfig());
      this.remoteSet = false;
      pc.onicecandidate = function (ev) {
        if (!ev.candidate || !ev.candidate.candidate) return;
        if (!self.call.keepCandidate(ev.candidate.candidate)) return;
        self.send({type: 'candidate', label: ev.candidate.sdpMLineIndex, id: ev.candidate.sdpMid,
          candidate: ev.candidate.candidate});
      };
      return pc.setRemoteDescription({type: 'offer', sdp: m.sdp}).then(function () {
        self.remoteSet = true;
        var stream = self.call.localStream;
        if (stream) stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
        var pending = self.pending;
        self.pending = [];
        return Promise.all(pending.map(function (c) { return pc.addIceCandidate(c).catch(function () {}); }));
      }).then(function () {
        return pc.createAnswer();
      }).then(function (answer) {
        return pc.setLocalDescription(answer).then(function () {
          self.send({sdp: answer.sdp, type: 'answer'});
        });
      });
    }
    if (m.type === 'candidate') {
      if (!this.call.keepCandidate(m.candidate)) return;
      var init = {candidate: m.candidate, sdpMLineIndex: m.label};
      if (!this.pc || !this.remoteSet) { this.pending.push(init); return; }
      return this.pc.addIceCandidate(init).catch(function () {});
    }
    if (m.type === 'bye' && this.pc) { this.pc.close(); this.pc = null; }
  };

  Loopback.prototype.close = function () {
    if (this.pc) { this.pc.close(); this.pc = null; }
    try { this.ws.close(); } catch (e) { /* already closed */ }
  };

  // ------------------------------------------------------------ call page UI

  function renderCall() {
    var link = P.roomLink || (location.origin + location.pathname + location.search);
    var remoteVideo = h('video', {id: 'remote-video', autoplay: true, playsinline: true});
    var localVideo = h('video', {id: 'local-video', autoplay: true, playsinline: true, muted: true});
    localVideo.muted = true;
    var status = h('p', {id: 'status', role: 'status', 'aria-live': 'polite'});
    var linkInput = h('input', {id: 'room-link', type: 'text', readonly: true, 'aria-label': 'Room link'});
    linkInput.value = link;
    var qr = h('img', {id: 'qr', alt: 'QR code of the room link', width: '160', height: '160'});
    qr.addEventListener('error', function () { qr.hidden = true; });
    qr.src = ROOT + '/qr.svg?text=' + enc(link);
    var copy = h('button', {id: 'copy', type: 'button', text: 'Copy'});
    var share = navigator.share ? h('button', {id: 'share', type: 'button', text: 'Share'}) : null;
    var invite = h('section', {id: 'invite', class: 'card'},
      h('div', {class: 'invite-head'},
        h('h2', {text: 'Invite someone'}),
        h('button', {id: 'invite-close', type: 'button', class: 'plain', 'aria-label': 'Close', text: '\u00d7'})),
      h('p', {text: 'Send this link, or let them scan the code with a phone camera.'}),
      h('div', {class: 'row'}, linkInput, copy, share),
      qr);
    var unmute = h('button', {id: 'unmute-remote', type: 'button', class: 'primary', hidden: true,
      text: 'Tap to hear the other person'});
    var mute = h('button', {id: 'mute', type: 'button', 'aria-pressed': 'false', text: 'Mute'});
    var camera = h('button', {id: 'camera', type: 'button', 'aria-pressed': 'false', text: 'Camera off'});
    var flip = h('button', {id: 'switch', type: 'button', hidden: true, text: 'Switch camera'});
    var inviteBtn = h('button', {id: 'invite-toggle', type: 'button', text: 'Invite'});
    var devicesBtn = h('button', {id: 'devices-toggle', type: 'button', hidden: true,
      'aria-expanded': 'false', 'aria-controls': 'devices', text: 'Devices'});
    var statsBtn = h('button', {id: 'stats-toggle', type: 'button', 'aria-pressed': 'false',
      'aria-controls': 'stats', title: 'Call statistics (key i)', text: 'Stats'});
    var cameraSelect = h('select', {id: 'camera-select'});
    var micSelect = h('select', {id: 'mic-select'});
    var devices = h('section', {id: 'devices', class: 'card', hidden: true},
      h('div', {class: 'invite-head'},
        h('h2', {text: 'Camera and microphone'}),
        h('button', {id: 'devices-close', type: 'button', class: 'plain', 'aria-label': 'Close', text: '\u00d7'})),
      h('label', {for: 'camera-select', text: 'Camera'}), cameraSelect,
      h('label', {for: 'mic-select', text: 'Microphone'}), micSelect);
    var statRows = {};
    var statList = h('dl', {});
    [['pair', 'Connection'], ['rtt', 'Round trip'], ['bitrate', 'Bitrate'],
      ['video-in', 'Video in'], ['video-out', 'Video out'], ['codecs', 'Codecs'],
      ['loss', 'Packets lost']].forEach(function (row) {
      statRows[row[0]] = h('dd', {id: 'stats-' + row[0], text: '\u2013'});
      statList.appendChild(h('dt', {text: row[1]}));
      statList.appendChild(statRows[row[0]]);
    });
    var statsPanel = h('aside', {id: 'stats', 'aria-label': 'Call statistics', hidden: true},
      h('div', {class: 'stats-head'},
        h('h2', {text: 'Call stats'}),
        h('button', {id: 'stats-close', type: 'button', class: 'plain', 'aria-label': 'Close', text: '\u00d7'})),
      statList);
    var hangup = h('button', {id: 'hangup', type: 'button', class: 'danger', text: 'Hang up'});
    var rejoin = h('button', {id: 'rejoin', type: 'button', class: 'primary', hidden: true, text: 'Rejoin'});
    var newRoom = h('a', {id: 'new-room', class: 'button secondary', href: ROOT + '/' + location.search,
      hidden: true, text: 'Other room'});
    var messages = h('div', {id: 'messages'},
      notices(P.errorMessages, 'error'), notices(P.warningMessages, 'warning'));
    if (P.headerMessage) messages.appendChild(h('p', {class: 'warning', text: String(P.headerMessage)}));

    var app = $('app');
    app.className = 'call';
    app.dataset.remote = 'off';
    app.textContent = '';
    app.appendChild(h('div', {id: 'stage'}, remoteVideo, localVideo));
    // The stats panel flows under the status line, however many lines that takes.
    app.appendChild(h('header', {id: 'topbar'},
      h('span', {id: 'room-name', text: P.roomId}), status, statsPanel));
    app.appendChild(messages);
    app.appendChild(invite);
    app.appendChild(devices);
    app.appendChild(unmute);
    app.appendChild(h('nav', {id: 'controls', 'aria-label': 'Call controls'},
      mute, camera, flip, devicesBtn, statsBtn, inviteBtn, hangup, rejoin, newRoom));

    var inviteOpen = null; // null: follow the state; true/false: the user chose
    var ui = {
      status: function (text, state) {
        status.textContent = text;
        var inCall = state !== 'idle' && !(state === 'error' && !call.clientId);
        hangup.hidden = !inCall;
        rejoin.hidden = inCall;
        rejoin.textContent = state === 'error' ? 'Try again' : 'Rejoin';
        newRoom.hidden = inCall;
        mute.hidden = camera.hidden = !call.localStream;
        ui.updateSwitch();
        var wantInvite = state === 'waiting' || state === 'peer-left';
        if (state === 'connected') inviteOpen = null;
        invite.hidden = !(inviteOpen === null ? wantInvite : inviteOpen);
      },
      notice: function (text, cls) {
        messages.appendChild(h('p', {class: (cls || 'warning') + ' runtime', text: text}));
      },
      showLocal: function (stream, mirror) {
        localVideo.srcObject = stream;
        localVideo.classList.toggle('mirror', !!mirror);
        localVideo.hidden = !stream;
        mute.hidden = camera.hidden = !stream;
        if (stream) {
          mute.setAttribute('aria-pressed', 'false');
          mute.textContent = 'Mute';
          camera.setAttribute('aria-pressed', String(!!call.cameraOff));
          camera.textContent = call.cameraOff ? 'Camera on' : 'Camera off';
          stream.getVideoTracks().forEach(function (t) { t.enabled = !call.cameraOff; });
          localVideo.play().catch(function () {});
        }
      },
      remoteStream: function () { return remoteVideo.srcObject; },
      showRemote: function (stream) {
        if (remoteVideo.srcObject === stream) return;
        remoteVideo.srcObject = stream;
        app.dataset.remote = stream ? 'on' : 'off';
        if (!stream) { unmute.hidden = true; return; }
        remoteVideo.muted = false;
        remoteVideo.play().catch(function (e) {
          // Autoplay with sound needs a tap on some browsers: play muted and offer a button.
          if (e.name !== 'NotAllowedError') { trace('remote play', e); return; }
          remoteVideo.muted = true;
          unmute.hidden = false;
          remoteVideo.play().catch(function (e2) { trace('remote play muted', e2); });
        });
      },
      // The switch button and the pickers, from enumerateDevices() (labels come with the
      // permission to use the camera).
      updateSwitch: function () {
        var stream = call.localStream;
        if (!stream || !navigator.mediaDevices.enumerateDevices) {
          flip.hidden = devicesBtn.hidden = devices.hidden = true;
          return;
        }
        navigator.mediaDevices.enumerateDevices().then(function (list) {
          stream = call.localStream;
          var cams = list.filter(function (d) { return d.kind === 'videoinput'; });
          var mics = list.filter(function (d) { return d.kind === 'audioinput'; });
          var video = stream && stream.getVideoTracks()[0];
          var audio = stream && stream.getAudioTracks()[0];
          flip.hidden = cams.length < 2 || !video;
          fillPicker(cameraSelect, video ? cams : [], video, 'Camera');
          fillPicker(micSelect, audio ? mics : [], audio, 'Microphone');
          devicesBtn.hidden = !stream || (!video && !audio);
          if (devicesBtn.hidden) devices.hidden = true;
        }).catch(function (e) {
          trace('enumerateDevices', e);
          flip.hidden = devicesBtn.hidden = devices.hidden = true;
        });
      },
      updateDevices: function () { ui.updateSwitch(); }
    };

    function fillPicker(select, list, track, noun) {
      var current = track && track.getSettings ? track.getSettings().deviceId : '';
      select.textContent = '';
      list.forEach(function (d, i) {
        var option = h('option', {value: d.deviceId, text: d.label || (noun + ' ' + (i + 1))});
        if (d.deviceId === current) option.selected = true;
        select.appendChild(option);
      });
      if (!list.length) select.appendChild(h('option', {value: '', text: 'None'}));
      select.disabled = list.length < 2;
    }

    // ------------------------------------------------ stats panel: button and the i key
    var statsTimer = null;
    function kbps(v) {
      if (typeof v !== 'number') return '\u2013';
      return v >= 1000 ? (v / 1000).toFixed(2) + ' Mbit/s' : Math.round(v) + ' kbit/s';
    }
    function videoText(v) {
      if (!v || !v.width) return '\u2013';
      return v.width + '\u00d7' + v.height + (v.fps === null ? '' : ', ' + Math.round(v.fps) + ' fps');
    }
    function showStats(sample) {
      if (!sample) {
        Object.keys(statRows).forEach(function (k) { statRows[k].textContent = '\u2013'; });
        return;
      }
      var pair = sample.pair;
      statRows.pair.textContent = pair ? pair.local + ' \u2192 ' + pair.remote +
        (pair.protocol ? ', ' + pair.protocol.toUpperCase() : '') +
        (pair.relayProtocol ? ' (TURN over ' + pair.relayProtocol.toUpperCase() + ')' : '') : 'not connected';
      statRows.rtt.textContent = sample.rttMs === null ? '\u2013' : Math.round(sample.rttMs) + ' ms';
      statRows.bitrate.textContent = '\u2193 ' + kbps(sample.inKbps) + '  \u2191 ' + kbps(sample.outKbps);
      statRows['video-in'].textContent = videoText(sample.videoIn);
      statRows['video-out'].textContent = videoText(sample.videoOut);
      var c = sample.codecs;
      function both(kind) {
        var a = c[kind + 'In'], b = c[kind + 'Out'];
        if (!a && !b) return null;
        return a === b || !b ? a : !a ? b : '\u2193 ' + a + ' \u2191 ' + b;
      }
      statRows.codecs.textContent = [both('audio'), both('video')].filter(Boolean).join(', ') || '\u2013';
      var total = sample.packetsReceived + sample.packetsLost;
      statRows.loss.textContent = total ? (100 * sample.packetsLost / total).toFixed(1) + ' % (' +
        sample.packetsLost + ' of ' + total + ')' : '\u2013';
    }
    function refreshStats() {
      call.sampleStats().then(function (sample) {
        if (statsPanel.hidden) return;
        call.lastStats = sample;
        showStats(sample);
      }).catch(function (e) { trace('getStats failed', e); });
    }
    function toggleStats(open) {
      if (open === undefined) open = statsPanel.hidden;
      statsPanel.hidden = !open;
      statsBtn.setAttribute('aria-pressed', String(open));
      clearInterval(statsTimer);
      statsTimer = null;
      if (open) {
        refreshStats();
        statsTimer = setInterval(refreshStats, 1000);
      }
    }
    statsBtn.addEventListener('click', function () { toggleStats(); });
    statsPanel.querySelector('#stats-close').addEventListener('click', function () { toggleStats(false); });
    document.addEventListener('keydown', function (ev) {
      // As the original web client: i shows and hides the stats, except while typing.
      if (ev.key !== 'i' && ev.key !== 'I') return;
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var t = ev.target;
      if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) return;
      toggleStats();
    });

    // ------------------------------------------------ device pickers
    function toggleDevices(open) {
      if (open === undefined) open = devices.hidden;
      devices.hidden = !open;
      devicesBtn.setAttribute('aria-expanded', String(open));
      if (open) ui.updateDevices();
    }
    devicesBtn.addEventListener('click', function () { toggleDevices(); });
    devices.querySelector('#devices-close').addEventListener('click', function () { toggleDevices(false); });
    cameraSelect.addEventListener('change', function () {
      cameraSelect.disabled = flip.disabled = true;
      call.selectCamera(cameraSelect.value).then(function () {
        flip.disabled = false;
        ui.updateDevices();
      });
    });
    micSelect.addEventListener('change', function () {
      micSelect.disabled = true;
      call.selectMicrophone(micSelect.value);
    });

    var call = new Call(ui);
    setBodyData('ice', 'new');

    unmute.addEventListener('click', function () {
      remoteVideo.muted = false;
      remoteVideo.play().catch(function () {});
      unmute.hidden = true;
    });
    mute.addEventListener('click', function () {
      var muted = call.toggleAudio();
      if (muted === null) return;
      mute.setAttribute('aria-pressed', String(muted));
      mute.textContent = muted ? 'Unmute' : 'Mute';
    });
    camera.addEventListener('click', function () {
      var off = call.toggleVideo();
      if (off === null) return;
      camera.setAttribute('aria-pressed', String(off));
      camera.textContent = off ? 'Camera on' : 'Camera off';
    });
    flip.addEventListener('click', function () {
      flip.disabled = cameraSelect.disabled = true;
      call.switchCamera().then(function () {
        flip.disabled = false;
        ui.updateDevices();
      });
    });
    inviteBtn.addEventListener('click', function () {
      inviteOpen = invite.hidden;
      invite.hidden = !inviteOpen;
    });
    invite.querySelector('#invite-close').addEventListener('click', function () {
      inviteOpen = false;
      invite.hidden = true;
    });
    copy.addEventListener('click', function () {
      function done() {
        copy.textContent = 'Copied';
        setTimeout(function () { copy.textContent = 'Copy'; }, 2000);
      }
      function legacy() {
        linkInput.select();
        try { if (document.execCommand('copy')) done(); } catch (e) { /* leave it selected */ }
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(link).then(done, legacy);
      } else {
        legacy();
      }
    });
    if (share) {
      share.addEventListener('click', function () {
        navigator.share({title: 'AppRTC room ' + P.roomId, url: link}).catch(function () {});
      });
    }
    linkInput.addEventListener('focus', function () { linkInput.select(); });
    hangup.addEventListener('click', function () { call.hangup(); });
    rejoin.addEventListener('click', function () {
      messages.querySelectorAll('p.runtime').forEach(function (p) { p.remove(); });
      call.start();
    });
    window.addEventListener('pagehide', function () { call.leaveOnUnload(); });
    window.addEventListener('pageshow', function (ev) {
      // Back from the back/forward cache: the call state is gone, start fresh.
      if (ev.persisted) location.reload();
    });
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener('devicechange', ui.updateSwitch);
    }

    window.__apprtc = {
      get clientId() { return call.clientId; },
      get isInitiator() { return call.isInitiator; },
      get state() { return call.state; },
      selectedCandidateType: function () { return call.selectedCandidateType(); },
      // The last sample the stats panel shows (null while it is closed or before a call).
      get stats() { return statsPanel.hidden ? null : call.lastStats || null; },
      restartIce: function () { return call.restartIce('requested'); },
      // The ICE username fragment of our current description (an ICE restart changes it).
      localUfrag: function () {
        var m = call.pc && call.pc.localDescription && /a=ice-ufrag:(\S+)/.exec(call.pc.localDescription.sdp);
        return m ? m[1] : null;
      },
      // Ids of the tracks the call sends (what replaceTrack changed).
      sentTrackIds: function () {
        return call.pc ? call.pc.getSenders().map(function (s) { return s.track && s.track.id; })
          .filter(Boolean) : [];
      },
      // The ICE restart's waits, which a test may shorten.
      timing: timing,
      log: logLines
    };

    call.start();
  }

  function main() {
    if (P.roomId) renderCall();
    else renderLanding();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
  else main();
})();
