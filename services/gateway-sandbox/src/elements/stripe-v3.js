// The sandbox's stand-in for Stripe.js v3 (served at GET /v3/): the part of
// its surface a card form uses, so the same page works against the sandbox and
// against Stripe. The card fields live in an iframe served from this script's
// own origin; this page only ever learns whether they are complete, the brand,
// and the result of a confirmation, never the number or the CVC. Payments and
// 3-D Secure are in stripe-v3-actions.js, served right after this file as one script.
(function () {
  'use strict';

  // Where this script came from is where the iframe and the API are.
  var GATEWAY = new URL(document.currentScript.src).origin;
  var SOURCE = 'vault-elements';
  var FRAME_TITLE = 'Secure card payment input frame';
  var EVENTS = ['change', 'ready', 'focus', 'blur'];
  var nextRequest = 1;

  function integrationError(message) {
    var err = new Error(message);
    err.name = 'IntegrationError';
    return err;
  }

  /** One card element: an iframe holding the number, expiry and CVC fields. */
  function CardElement(publishableKey) {
    this.key = publishableKey;
    this.frame = null;
    this.ready = false;
    this.queue = [];
    this.pending = new Map();
    this.handlers = {};
    EVENTS.forEach(function (name) {
      this.handlers[name] = [];
    }, this);
    this.onMessage = this.receive.bind(this);
  }

  CardElement.prototype.on = function (event, handler) {
    if (!this.handlers[event]) throw integrationError('Unknown event: ' + event);
    this.handlers[event].push(handler);
    return this;
  };

  CardElement.prototype.emit = function (event, payload) {
    this.handlers[event].forEach(function (handler) {
      handler(payload);
    });
  };

  CardElement.prototype.mount = function (target) {
    var host = typeof target === 'string' ? document.querySelector(target) : target;
    if (!host) throw integrationError('mount(): no element matches ' + String(target));
    if (this.frame) throw integrationError('This Element is already mounted.');
    var src = new URL('/elements/card', GATEWAY);
    // No origin parameter: the gateway frames its fields for the card form's origin alone (configured there).
    src.searchParams.set('key', this.key);
    var frame = document.createElement('iframe');
    frame.title = FRAME_TITLE;
    frame.src = src.toString();
    frame.setAttribute('scrolling', 'no');
    frame.setAttribute('allowtransparency', 'true');
    // Styles through the CSSOM, so the page's CSP needs no inline styles.
    frame.style.border = '0';
    frame.style.width = '100%';
    frame.style.height = '9rem';
    frame.style.display = 'block';
    this.frame = frame;
    window.addEventListener('message', this.onMessage);
    host.appendChild(frame);
    return this;
  };

  CardElement.prototype.unmount = function () {
    if (!this.frame) return this;
    window.removeEventListener('message', this.onMessage);
    this.frame.remove();
    this.frame = null;
    this.ready = false;
    this.queue = [];
    this.pending.forEach(function (resolve) {
      resolve({ error: { type: 'validation_error', code: 'element_unmounted', message: 'The card fields were removed.' } });
    });
    this.pending.clear();
    return this;
  };

  /** Messages only from our own iframe, and only from the gateway's origin. */
  CardElement.prototype.receive = function (event) {
    if (!this.frame || event.source !== this.frame.contentWindow || event.origin !== GATEWAY) return;
    var data = event.data;
    if (!data || data.source !== SOURCE) return;
    switch (data.type) {
      case 'ready':
        this.ready = true;
        this.resize(data.height);
        this.queue.splice(0).forEach(this.post, this);
        this.emit('ready', { elementType: 'card' });
        break;
      case 'resize':
        this.resize(data.height);
        break;
      case 'change':
        this.emit('change', {
          elementType: 'card',
          complete: Boolean(data.complete),
          empty: Boolean(data.empty),
          brand: String(data.brand || 'unknown'),
          error: data.error ? { type: 'validation_error', code: String(data.error.code), message: String(data.error.message) } : undefined,
        });
        break;
      case 'focus':
      case 'blur':
        this.emit(data.type, { elementType: 'card' });
        break;
      case 'result': {
        var resolve = this.pending.get(data.requestId);
        if (resolve) {
          this.pending.delete(data.requestId);
          resolve(data.result);
        }
        break;
      }
    }
  };

  CardElement.prototype.resize = function (height) {
    if (this.frame && typeof height === 'number' && height > 0 && height < 2000) this.frame.style.height = Math.ceil(height) + 'px';
  };

  /** To the iframe, and only to the gateway's origin; held until the iframe says it is ready. */
  CardElement.prototype.post = function (message) {
    if (!this.frame) return;
    if (!this.ready) {
      this.queue.push(message);
      return;
    }
    this.frame.contentWindow.postMessage(Object.assign({ source: SOURCE }, message), GATEWAY);
  };

  CardElement.prototype.focus = function () {
    if (!this.frame) return this;
    // Focusing our own iframe first lets the frame move focus to its field.
    this.frame.focus();
    this.post({ type: 'focus' });
    return this;
  };

  CardElement.prototype.clear = function () {
    this.post({ type: 'clear' });
    return this;
  };

  /** Asks the iframe to do something and waits for its one answer. */
  CardElement.prototype.request = function (type, payload) {
    var self = this;
    return new Promise(function (resolve) {
      var requestId = nextRequest++;
      self.pending.set(requestId, resolve);
      self.post(Object.assign({ type: type, requestId: requestId }, payload));
    });
  };

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey);
    if (typeof publishableKey !== 'string' || !/^pk_/.test(publishableKey)) {
      throw integrationError('Stripe(): a publishable key (pk_…) is required.');
    }
    this.key = publishableKey;
  }

  Stripe.prototype.elements = function () {
    var key = this.key;
    return {
      // Stripe's style and other options change nothing here.
      create: function (type) {
        if (type !== 'card') throw integrationError('Only the "card" element exists in the sandbox.');
        return new CardElement(key);
      },
    };
  };

  /**
   * The iframe creates the payment method and confirms the setup intent on the
   * gateway's origin; resolves { setupIntent } or { error }, as Stripe.js does.
   */
  Stripe.prototype.confirmCardSetup = function (clientSecret, data) {
    var method = data && data.payment_method;
    var element = method && method.card;
    if (!(element instanceof CardElement) || !element.frame) {
      return Promise.reject(integrationError('confirmCardSetup(): payment_method.card must be a mounted card Element.'));
    }
    if (typeof clientSecret !== 'string' || !/^seti_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$/.test(clientSecret)) {
      return Promise.reject(integrationError('confirmCardSetup(): the first argument must be a setup intent client secret.'));
    }
    return element.request('confirmCardSetup', {
      clientSecret: clientSecret,
      billingDetails: method.billing_details || null,
    });
  };

  window.Stripe = Stripe;
})();
