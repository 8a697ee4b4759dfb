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

// Page settings that ride along with the config: the open lesson and projector mode.
//   ?lesson=xor&projector=1&dataset=xor&...

/** {lesson: id or null, projector: bool} from a query string. */
export function readPageParams(search) {
  const q = new URLSearchParams(search);
  return { lesson: q.get("lesson") || null, projector: q.get("projector") === "1" };
}

// A room rides along too: ?join=CODE (this tab follows it), ?present=CODE (this tab
// presents it), ?forked=CODE (this tab drives a fork of it).
const ROOM_PARAMS = ["join", "present", "forked"];

/** {join, present, forked}: room codes from a query string (null when absent). */
export function readRoomParams(search) {
  const q = new URLSearchParams(search);
  return Object.fromEntries(ROOM_PARAMS.map((k) => [k, (q.get(k) || "").toUpperCase().replace(/[^A-Z0-9]/g, "") || null]));
}

/** `query` with the room codes of `room` ({join, present, forked}) in front. */
export function withRoomParams(query, room) {
  const q = new URLSearchParams();
  for (const k of ROOM_PARAMS) if (room[k]) q.set(k, room[k]);
  const head = q.toString();
  return head && query ? `${head}&${query}` : head || query;
}

/** `configQuery` with the page settings in `ui` ({lesson, projector}) in front. */
export function withPageParams(configQuery, ui) {
  const q = new URLSearchParams();
  if (ui.lesson) q.set("lesson", ui.lesson);
  if (ui.projector) q.set("projector", "1");
  const page = q.toString();
  return page && configQuery ? `${page}&${configQuery}` : page || configQuery;
}

/** The page's own query for state `s`: the room part, the page settings and, unless this
 *  tab follows a room (whose config rules), the config. */
export function pageQuery(s) {
  const room = { join: s.role === "follower" && s.room ? s.room.code : null,
    present: s.role === "presenter" && s.room ? s.room.code : null, forked: s.role === "solo" ? s.forkOf : null };
  if (room.join) return withRoomParams(withPageParams("", { ...s.ui, lesson: null }), room);
  return withRoomParams(withPageParams(encodeConfig(s.config, s.schema), s.ui), room);
}
