/**
 * Node 20 lacks `Promise.withResolvers` (Node 22, which Lambda runs, has it);
 * aws-local-stepfunctions 3 calls it for every Task state.
 */
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
export {};

// This machine runs Node 20 for local mode; Lambda runs Node 22. The SDK's notice about
// Node 20 support is known and would drown the demo's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Local mode shows progress itself (the `npm start` view, the execution history); the
// handlers' structured logs stay quiet unless asked for.
process.env.TETHER_LOG_LEVEL ??= 'ERROR';
