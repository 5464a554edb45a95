// The SQL the simulated cluster understands, parsed into commands. Only what
// the deployment document uses (show dnodes, show mnodes, create dnode,
// create mnode on dnode) plus server_version(); anything else is refused with
// a message that says the simulator does not support it.

export type Command =
  | { kind: 'show-dnodes' }
  | { kind: 'show-mnodes' }
  | { kind: 'create-dnode'; fqdn: string; port: number }
  | { kind: 'create-mnode'; dnodeId: number }
  | { kind: 'server-version' }
  | { kind: 'error'; message: string };


function syntaxNear(rest: string): Command {
  return { kind: 'error', message: `syntax error near '${rest.trim()}'` };
}

export function parseStatement(sql: string): Command {
  const s = sql.trim().replace(/;\s*$/, '').trim();
  if (/^show\s+dnodes$/i.test(s)) return { kind: 'show-dnodes' };
  if (/^show\s+mnodes$/i.test(s)) return { kind: 'show-mnodes' };
  if (/^select\s+server_version\s*\(\s*\)$/i.test(s)) return { kind: 'server-version' };

  const dnode = /^create\s+dnode\s+(.*)$/i.exec(s);
  if (dnode) {
    const rest = dnode[1]!.trim();
    // create dnode "fqdn:port" | 'fqdn:port' | "fqdn" port N | fqdn port N
    const quoted = /^(["'])([^"']*)\1(?:\s+port\s+(\d+))?$/i.exec(rest);
    const bare = /^([A-Za-z0-9_.-]+)(?:\s+port\s+(\d+))?$/i.exec(rest);
    let fqdn: string;
    let port: number;
    if (quoted) {
      const ep = quoted[2]!;
      const at = ep.lastIndexOf(':');
      if (quoted[3] !== undefined) {
        fqdn = ep;
        port = Number(quoted[3]);
      } else if (at > 0) {
        fqdn = ep.slice(0, at);
        port = Number(ep.slice(at + 1));
        if (!/^\d+$/.test(ep.slice(at + 1))) return { kind: 'error', message: `Invalid endpoint: ${ep}` };
      } else {
        fqdn = ep;
        port = 6030;
      }
    } else if (bare) {
      fqdn = bare[1]!;
      port = bare[2] === undefined ? 6030 : Number(bare[2]);
    } else {
      // The document: `fqdn:port` needs double quotes, or the statement fails.
      const colon = rest.indexOf(':');
      return syntaxNear(colon >= 0 ? rest.slice(colon) : rest);
    }
    if (fqdn === '' || /\s/.test(fqdn)) return { kind: 'error', message: `Invalid endpoint: ${fqdn}` };
    if (!Number.isInteger(port) || port < 1 || port > 65535) return { kind: 'error', message: `Port should be an integer that is less than 65535 and greater than 0` };
    return { kind: 'create-dnode', fqdn, port };
  }

  const mnode = /^create\s+mnode\s+on\s+dnode\s+(.*)$/i.exec(s);
  if (mnode) {
    const id = mnode[1]!.trim();
    if (!/^\d+$/.test(id)) return syntaxNear(id);
    return { kind: 'create-mnode', dnodeId: Number(id) };
  }
  if (/^create\s+mnode\b/i.test(s)) return syntaxNear(s.replace(/^create\s+mnode/i, ''));
  if (/^show\s+\w+/i.test(s) || /^(create|drop|alter|select|insert|use|describe|desc)\b/i.test(s)) {
    return { kind: 'error', message: `the simulated TDengine does not support this statement: ${s}` };
  }
  return syntaxNear(s.split(/\s+/)[0] ?? s);
}
