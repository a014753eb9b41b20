// What each role may do (docs/roles.md, the matrix): the console hides what a role may not do.
// The server checks every call anyway.
const MATRIX = {
  "sale.record": ["admin", "manager", "seller"],
  "sale.read_all": ["admin", "accountant", "manager", "auditor"],
  "journal.record": ["admin", "accountant"],
  "ledger.read": ["admin", "accountant", "auditor"],
  "entry.reverse": ["admin", "accountant", "manager"],
  "closure.read": ["admin", "accountant", "manager", "auditor"],
  "closure.day": ["admin", "accountant", "manager"],
  "closure.period": ["admin", "accountant"],
  "checkpoint.sign": ["admin", "accountant"],
  "ledger.verify": ["admin", "accountant", "auditor"],
  "export.create": ["admin", "accountant", "auditor"],
  "events.read": ["admin", "accountant", "auditor"],
  "anomalies.read": ["admin", "accountant"],
  "members.read": ["admin", "accountant"],
  "members.manage": ["admin"],
  "auditor.grant": ["admin"],
  "tenant.configure": ["admin"],
  "tenant.go_live": ["admin"],
  "tenant.read": ["admin", "accountant", "manager", "seller", "auditor"],
  "ticket.open": ["admin", "accountant", "manager", "seller"],
};

export function roleCan(role, permission) {
  return Boolean(role && (MATRIX[permission] || []).includes(role));
}

export function can(state, permission) {
  return roleCan(state && state.membership && state.membership.role, permission);
}

// The platform operator: a flag on the account, never a tenant member (support, news, mailings, alarms).
export function isOperator(state) {
  return Boolean(state && state.me && state.me.operator);
}
