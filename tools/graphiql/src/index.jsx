// The GraphiQL page of the Shopgraph gateway. Queries and mutations go to
// /graphql over HTTP; subscriptions go to the same path over a
// graphql-transport-ws websocket. The headers typed in the Headers tab (for
// example {"Authorization": "Bearer …"}) ride on both: on every HTTP request,
// and in the websocket's connection_init payload.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws';
import { parse } from 'graphql';
import 'graphiql/graphiql.css';
import './page.css';

const root = document.getElementById('graphiql');
const endpoint = new URL(root.dataset.endpoint || '/graphql', window.location.href);
const wsEndpoint = new URL(endpoint);
wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

// One websocket client per distinct set of headers: a new Authorization
// header means a new connection_init, so a new connection.
let ws = { key: null, client: null };
function wsClient(headers) {
  const key = JSON.stringify(headers || {});
  if (ws.key !== key) {
    if (ws.client) ws.client.dispose();
    ws = {
      key,
      client: createClient({ url: wsEndpoint.href, connectionParams: headers || {}, lazy: true }),
    };
  }
  return ws.client;
}

const httpFetcher = createGraphiQLFetcher({ url: endpoint.href });

// isSubscription reports whether the operation GraphiQL runs is a
// subscription (the named one, or the only one).
function isSubscription(params) {
  try {
    const ops = parse(params.query || '').definitions.filter((d) => d.kind === 'OperationDefinition');
    const op = params.operationName ? ops.find((o) => o.name && o.name.value === params.operationName) : ops[0];
    return Boolean(op) && op.operation === 'subscription';
  } catch (e) {
    return false; // the server explains the syntax error
  }
}

const fetcher = (params, opts) => {
  if (!isSubscription(params)) {
    return httpFetcher(params, opts);
  }
  const client = wsClient(opts && opts.headers);
  // An async iterable of results, as GraphiQL expects from a subscription.
  return {
    [Symbol.asyncIterator]() {
      const queue = [];
      let waiting = null;
      let done = false;
      const push = (item) => {
        if (waiting) {
          const w = waiting;
          waiting = null;
          w(item);
        } else {
          queue.push(item);
        }
      };
      const dispose = client.subscribe(params, {
        next: (value) => push({ value, done: false }),
        error: (err) => {
          const errors = Array.isArray(err) ? err : [{ message: err && err.reason ? err.reason : String(err && err.message || err) }];
          push({ value: { errors }, done: false });
          done = true;
          push({ value: undefined, done: true });
        },
        complete: () => {
          done = true;
          push({ value: undefined, done: true });
        },
      });
      return {
        next() {
          if (queue.length) return Promise.resolve(queue.shift());
          if (done) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve) => { waiting = resolve; });
        },
        return() {
          dispose();
          done = true;
          return Promise.resolve({ value: undefined, done: true });
        },
      };
    },
  };
};

const defaultQuery = `# Welcome to Shopgraph. Press the play button (or Ctrl-Enter) to run.
# Open the docs explorer (book icon, top left) to browse the schema.
query Catalog {
  products(first: 5) {
    edges {
      node {
        id
        name
      }
    }
  }
}
`;

createRoot(root).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    shouldPersistHeaders: true,
    isHeadersEditorEnabled: true,
  }),
);
