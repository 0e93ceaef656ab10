/*! OpenPanel browser script __OPENPANEL_SDK_VERSION__ (openpanel-web-bridge, MIT) */
// Hand-written ES2017, no build step. It will be replaced by the build of the openpanel-browser
// package. The page loads it after the classic queue stub:
//
//   window.op=window.op||function(){(window.op.q=window.op.q||[]).push(arguments)};
//   op('init', {clientId: '...', apiUrl: '/_op'});
//   op('track', 'signup', {plan: 'pro'});
//
// Queued calls run in order wherever `init` sits: calls made before `init` are kept and replayed
// right after it. Every entry point is wrapped in try/catch: the script never throws into the page.
(function () {
  'use strict';
  var w = typeof window === 'object' ? window : null;
  if (!w || (w.op && w.op.__openpanel)) return; // no browser, or already loaded

  var SDK_NAME = 'openpanel-browser';
  var SDK_VERSION = '__OPENPANEL_SDK_VERSION__';
  var MAX_PENDING = 100; // calls kept while waiting for `init`

  var doc = w.document;
  var loc = w.location;
  var slice = Array.prototype.slice;
  var cfg = null; // the init options, once `init` ran
  var pending = []; // calls made before `init`
  var globals = {}; // setGlobalProperties
  var profileId; // from identify, sent with later events
  var lastView = null; // the page of the last screen_view (for de-duplication)
  var firstView = true;
  var viewTimer = null;

  function isObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  // A shallow copy without null and undefined values (OpenPanel refuses null optional fields).
  function compact(obj) {
    var out = {};
    if (isObject(obj)) {
      Object.keys(obj).forEach(function (key) {
        if (obj[key] != null) out[key] = obj[key];
      });
    }
    return out;
  }

  function guard(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (e) {
        // never throw into the page
      }
    };
  }

  function send(type, payload) {
    var body = JSON.stringify({ type: type, payload: compact(payload) });
    var sent = w.fetch(cfg.apiUrl + '/track', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'openpanel-client-id': cfg.clientId,
        'openpanel-sdk-name': SDK_NAME,
        'openpanel-sdk-version': SDK_VERSION,
      },
      body: body,
      keepalive: true,
    });
    if (sent && typeof sent.catch === 'function') sent.catch(function () {});
  }

  function track(name, properties) {
    if (typeof name !== 'string' || !name) return;
    send('track', {
      name: name,
      properties: compact(Object.assign({}, globals, properties)),
      profileId: profileId,
    });
  }

  function identify(user) {
    if (!isObject(user)) return;
    if (user.profileId != null) profileId = user.profileId;
    var payload = compact({
      firstName: user.firstName,
      lastName: user.lastName,
      email: user.email,
      avatar: user.avatar,
      properties: user.properties,
    });
    // Only the profile id: later events carry it, nothing to send now (as @openpanel/web).
    if (profileId == null || !Object.keys(payload).length) return;
    payload.profileId = profileId;
    var properties = compact(Object.assign({}, globals, user.properties));
    if (Object.keys(properties).length) payload.properties = properties;
    else delete payload.properties;
    send('identify', payload);
  }

  // op('increment', {profileId, property, value}) or op('increment', 'property', value)
  function adjust(type, first, value) {
    var p = isObject(first) ? first : { property: first, value: value };
    var id = p.profileId != null ? p.profileId : profileId;
    if (id == null || typeof p.property !== 'string' || !p.property) return;
    send(type, {
      profileId: id,
      property: p.property,
      value: typeof p.value === 'number' ? p.value : 1,
    });
  }

  function revenue(amount, properties) {
    track('revenue', Object.assign({}, properties, { __revenue: amount }));
  }

  // ---------------------------------------------------------------- screen views

  function pageKey() {
    return cfg.trackHashChanges ? loc.href : loc.href.split('#')[0];
  }

  function screenView() {
    var key = pageKey();
    if (key === lastView) return; // replaceState to the same page, popstate to a hash...
    lastView = key;
    var props = { __path: loc.href, __title: doc.title || undefined };
    if (firstView) {
      props.__referrer = doc.referrer || undefined;
      firstView = false;
    }
    track('screen_view', props);
  }

  var scheduleView = guard(function () {
    // Wait for the app to update the title after a navigation.
    clearTimeout(viewTimer);
    viewTimer = setTimeout(guard(screenView), 50);
  });

  function watchHistory() {
    var history = w.history;
    ['pushState', 'replaceState'].forEach(function (method) {
      var original = history[method];
      if (typeof original !== 'function') return;
      history[method] = function () {
        var result = original.apply(this, arguments); // the page's own errors stay its own
        scheduleView();
        return result;
      };
    });
    w.addEventListener('popstate', scheduleView);
    if (cfg.trackHashChanges) w.addEventListener('hashchange', scheduleView);
  }

  // ---------------------------------------------------------------- clicks

  function onClick(event) {
    var target = event.target;
    if (!target || typeof target.closest !== 'function') return;
    if (cfg.trackAttributes) {
      // <button data-track="signup_click" data-plan-name="pro"> -> signup_click {planName: 'pro'}
      var tagged = target.closest('[data-track]');
      if (tagged) {
        var props = {};
        Object.keys(tagged.dataset).forEach(function (key) {
          if (key !== 'track') props[key] = tagged.dataset[key];
        });
        track(tagged.dataset.track, props);
      }
    }
    if (cfg.trackOutgoingLinks) {
      var link = target.closest('a[href]');
      if (link && link.host && link.host !== loc.host) {
        var text = (link.innerText || link.textContent || '').trim();
        track('link_out', { href: link.href, text: text || undefined });
      }
    }
  }

  // ---------------------------------------------------------------- dispatch

  function init(options) {
    if (cfg || !isObject(options) || !options.clientId) return;
    cfg = Object.assign({ trackScreenViews: true }, options);
    cfg.apiUrl = String(cfg.apiUrl || 'https://api.openpanel.dev').replace(/\/+$/, '');
    if (cfg.trackOutgoingLinks || cfg.trackAttributes) {
      doc.addEventListener('click', guard(onClick), true);
    }
    if (cfg.trackScreenViews) watchHistory();
    var replay = pending;
    pending = [];
    replay.forEach(function (args) {
      op.apply(null, args);
    });
    if (cfg.trackScreenViews) screenView();
  }

  var methods = {
    track: track,
    identify: identify,
    increment: function (first, value) {
      adjust('increment', first, value);
    },
    decrement: function (first, value) {
      adjust('decrement', first, value);
    },
    revenue: revenue,
    setGlobalProperties: function (properties) {
      globals = Object.assign({}, globals, compact(properties));
    },
    clear: function () {
      profileId = undefined;
    },
  };

  function op(name) {
    try {
      var args = slice.call(arguments, 1);
      if (name === 'init') return init(args[0]);
      if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(methods, name)) return;
      if (!cfg) {
        if (pending.length < MAX_PENDING) pending.push(slice.call(arguments));
        return;
      }
      methods[name].apply(null, args);
    } catch (e) {
      // never throw into the page
    }
  }

  try {
    var queued = w.op && w.op.q;
    op.__openpanel = SDK_VERSION;
    // op.track(...) works as well as op('track', ...).
    Object.keys(methods)
      .concat('init')
      .forEach(function (name) {
        op[name] = function () {
          op.apply(null, [name].concat(slice.call(arguments)));
        };
      });
    w.op = op;
    if (queued && typeof queued.length === 'number') {
      for (var i = 0; i < queued.length; i++) {
        try {
          op.apply(null, slice.call(queued[i]));
        } catch (e) {
          // a broken queue entry is skipped
        }
      }
    }
  } catch (e) {
    // never throw into the page
  }
})();
