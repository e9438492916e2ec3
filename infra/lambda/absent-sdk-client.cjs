// Stands in, inside one Lambda bundle, for an AWS SDK client package that the function does
// not use (infra/bundles.ts): every export is a class that throws when constructed, so a
// call the analysis missed fails loudly instead of silently.
'use strict';
module.exports = new Proxy(
  {},
  {
    get(_target, name) {
      if (name === '__esModule') return false;
      return class AbsentSdkClient {
        constructor() {
          throw new Error(
            `${String(name)}: this function was bundled without its AWS SDK package (infra/bundles.ts found no import of it outside the client factory)`,
          );
        }
      };
    },
  },
);
