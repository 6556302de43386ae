// Builds GraphiQL into ../../gateway/graphiql/ (graphiql.js, graphiql.css),
// which the gateway embeds with go:embed. Run `npm ci && npm run build` here and
// commit the output; `go build` needs no npm.
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../gateway/graphiql');

await esbuild.build({
  entryPoints: [path.join(here, 'src/index.jsx')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outfile: path.join(out, 'graphiql.js'),
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl' },
  legalComments: 'none',
  logLevel: 'info',
});
