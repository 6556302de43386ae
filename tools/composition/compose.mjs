#!/usr/bin/env node
// compose.mjs composes Shopgraph's subgraph schemas into an Apollo Federation
// v2 supergraph, the check that a deployment could swap the gateway for Apollo
// Router or Cosmo Router without touching a subgraph.
//
// Each subgraph's SDL is built as gqlgen serves it in `_service { sdl }`: the
// files of schema/shared/ followed by those of schema/<name>/, each sorted by
// name (gqlgen leaves out only its own built-in federation sources, and the
// `extend schema @link(...)` in shared imports the directives). Every folder
// under the schema root other than shared/ is a subgraph.
//
// Usage: node compose.mjs [--supergraph] [--hints] [schema-root]
//
//   schema-root   default: ../../schema relative to this file
//   --supergraph  print the supergraph SDL on stdout (the summary goes to stderr)
//   --hints       print composition hints too
//
// Exits 0 when the subgraphs compose, 1 on any error, 2 on bad usage.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { composeServices } from '@apollo/composition';
import { Kind, Source, parse } from 'graphql';

const here = dirname(fileURLToPath(import.meta.url));

function usage(message) {
  if (message) console.error(`compose: ${message}`);
  console.error('usage: node compose.mjs [--supergraph] [--hints] [schema-root]');
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      supergraph: { type: 'boolean', default: false },
      hints: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  usage(err.message);
}
if (args.values.help) usage();
if (args.positionals.length > 1) usage('at most one schema root');

const root = resolve(args.positionals[0] ?? join(here, '..', '..', 'schema'));
// display names a path as schema/<name>/<file>: relative to the root's parent.
const display = (p) => relative(dirname(root), p) || p;

// graphqlsFiles returns the .graphqls files of dir, sorted as gqlgen's glob does.
function graphqlsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.graphqls'))
    .map((e) => join(dir, e.name))
    .sort();
}

// load parses files one by one, as gqlgen does, so that a syntax error names
// its file and line, and joins their definitions into one document.
function load(files, problems) {
  const definitions = [];
  for (const file of files) {
    try {
      const doc = parse(new Source(readFileSync(file, 'utf8'), display(file)));
      definitions.push(...doc.definitions);
    } catch (err) {
      problems.push(err.toString());
    }
  }
  return { kind: Kind.DOCUMENT, definitions };
}

function fail(lines) {
  for (const line of lines) console.error(line);
  process.exit(1);
}

let entries;
try {
  if (!statSync(root).isDirectory()) fail([`compose: ${display(root)} is not a directory`]);
  entries = readdirSync(root, { withFileTypes: true });
} catch (err) {
  fail([`compose: ${err.message}`]);
}

const sharedDir = join(root, 'shared');
const sharedFiles = entries.some((e) => e.isDirectory() && e.name === 'shared') ? graphqlsFiles(sharedDir) : [];
if (sharedFiles.length === 0) fail([`compose: no .graphqls files in ${display(sharedDir)}`]);

const names = entries
  .filter((e) => e.isDirectory() && e.name !== 'shared' && !e.name.startsWith('.'))
  .map((e) => e.name)
  .sort();
if (names.length === 0) fail([`compose: no subgraph folders under ${display(root)} (only shared/)`]);

const problems = [];
const services = [];
for (const name of names) {
  const own = graphqlsFiles(join(root, name));
  if (own.length === 0) {
    problems.push(`[${name}] no .graphqls files in ${display(join(root, name))}`);
    continue;
  }
  services.push({ name, typeDefs: load([...sharedFiles, ...own], problems) });
}
if (problems.length > 0) fail([...problems, `compose: ${problems.length} syntax error(s); nothing composed`]);

const result = composeServices(services);

if (result.errors) {
  const lines = result.errors.map((err) => {
    const code = err.extensions?.code ? `${err.extensions.code}: ` : '';
    const where = (err.nodes ?? [])
      .map((n) => n.loc && `${n.loc.source.name}:${n.loc.source.locationOffset.line + n.loc.startToken.line - 1}`)
      .filter(Boolean);
    return `${code}${err.message}${where.length ? ` (${[...new Set(where)].join(', ')})` : ''}`;
  });
  fail([...lines, `compose: ${names.join(', ')} do not compose: ${result.errors.length} error(s)`]);
}

if (args.values.hints) {
  for (const hint of result.hints) console.error(`hint ${hint.definition.code}: ${hint.message}`);
}

const api = result.schema.toAPISchema();
const types = [...api.types()].filter((t) => !t.isBuiltIn && !t.name.startsWith('__'));
const summary =
  `composed ${names.length} subgraph(s) (${names.join(', ')}) into a supergraph of ${types.length} types` +
  `; ${result.hints.length} hint(s)${result.hints.length && !args.values.hints ? ' (--hints lists them)' : ''}`;

if (args.values.supergraph) {
  console.error(summary);
  process.stdout.write(result.supergraphSdl.endsWith('\n') ? result.supergraphSdl : `${result.supergraphSdl}\n`);
} else {
  console.log(summary);
}
