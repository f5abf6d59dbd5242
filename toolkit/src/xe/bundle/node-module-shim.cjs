// Build-time stand-in for `node:module` inside the xe bundle (toolkit/scripts/build-xe.mjs). The XenAPI client's
// XML-RPC codec loads the `xmlrpc` package with createRequire(); this shim serves those files from the bundle,
// so they are compiled once into the bundle's V8 code cache instead of being resolved and compiled file by file
// on every `xe` start. Any other id goes to the real require.
'use strict';
const real = require('node:module');

const bundled = {
  'xmlrpc/lib/serializer.js': () => require('xmlrpc/lib/serializer.js'),
  'xmlrpc/lib/customtype.js': () => require('xmlrpc/lib/customtype.js'),
  'xmlrpc/lib/deserializer.js': () => require('xmlrpc/lib/deserializer.js'),
  'xmlrpc/lib/date_formatter.js': () => require('xmlrpc/lib/date_formatter.js'),
  sax: () => require('sax'),
};

module.exports = {
  ...real,
  createRequire(url) {
    const requireReal = real.createRequire(url);
    const shim = (id) => (Object.hasOwn(bundled, id) ? bundled[id]() : requireReal(id));
    shim.resolve = requireReal.resolve;
    return shim;
  },
};
