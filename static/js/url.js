// The configuration in the page's URL, using the engine's field names:
//   ?dataset=xor&hidden=4,2&activation=tanh&features=x1,x2&learning_rate=0.03&max_epochs=
// Lists are comma separated; an empty value is null (an optional field switched off).

/** Query string for `config`, field by field in the schema's order. */
export function encodeConfig(config, schema) {
  const q = new URLSearchParams();
  for (const f of schema) {
    if (!(f.name in config)) continue;
    const v = config[f.name];
    q.set(f.name, v === null ? "" : Array.isArray(v) ? v.join(",") : String(v));
  }
  return q.toString();
}

/** Typed partial config from a query string; unknown names and unparsable values are skipped. */
export function decodeConfig(search, schema) {
  const q = new URLSearchParams(search);
  const out = {};
  const bad = [];
  for (const f of schema) {
    if (!q.has(f.name)) continue;
    const raw = q.get(f.name);
    const v = parseValue(f, raw);
    if (v === undefined) bad.push(f.name); else out[f.name] = v;
  }
  return { config: out, bad };
}

function parseValue(f, raw) {
  if (raw === "" && f.optional) return null;
  switch (f.kind) {
    case "bool": return raw === "true" ? true : raw === "false" ? false : undefined;
    case "int": { const v = Number(raw); return Number.isInteger(v) ? v : undefined; }
    case "float": { const v = Number(raw); return raw !== "" && Number.isFinite(v) ? v : undefined; }
    case "choice": return raw;
    case "choices": return raw ? raw.split(",") : undefined;
    case "widths": {
      if (raw === "") return [];
      const v = raw.split(",").map(Number);
      return v.every(Number.isInteger) ? v : undefined;
    }
    case "per_layer": return raw.includes(",") ? raw.split(",") : raw;
    default: return undefined;
  }
}

/** The fields of `wanted` whose values differ from `current`. */
export function configDiff(wanted, current) {
  const out = {};
  for (const [k, v] of Object.entries(wanted)) {
    if (JSON.stringify(v) !== JSON.stringify(current ? current[k] : undefined)) out[k] = v;
  }
  return out;
}

export function urlHasConfig(search, schema) {
  const q = new URLSearchParams(search);
  return schema.some((f) => q.has(f.name));
}
