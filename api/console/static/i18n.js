// Chinese and English. The choice is kept in localStorage; the first
// visit follows the browser's language.
const LANG = 'taskrunner.lang';

const en = {
  'nav.overview': 'Overview', 'nav.tasks': 'Tasks', 'nav.audit': 'Audit',
  'signout': 'Sign out', 'cancel': 'Cancel', 'confirm': 'Confirm',
  'signin.title': 'Sign in', 'signin.token': 'API token', 'signin.submit': 'Sign in',
  'signin.help': 'A token from api.toml, or the one `go run .` printed at its first start. It is kept in this tab only (sessionStorage).',
  'signin.bad': 'This token was refused: {0}',
  'role.read': 'read only', 'role.operate': 'operator', 'role.admin': 'admin',
  'loading': 'Loading…', 'none': 'none', 'more': 'Load more', 'refresh': 'Refresh', 'auto': 'auto-refresh',
  'search': 'Search key, description, function', 'all': 'all',
  'col.key': 'Key', 'col.desc': 'Description', 'col.func': 'Function', 'col.trigger': 'Trigger', 'col.spec': 'Spec',
  'col.enabled': 'Enabled', 'col.next': 'Next run', 'col.last': 'Last run', 'col.status': 'Status', 'col.actions': '',
  'col.id': 'Run', 'col.scheduled': 'Scheduled', 'col.started': 'Started', 'col.lateness': 'Late', 'col.duration': 'Duration',
  'col.attempt': 'Attempt', 'col.source': 'Source', 'col.trace': 'Trace id', 'col.owner': 'Owner', 'col.error': 'Output / error',
  'col.at': 'When', 'col.actor': 'Who', 'col.remote': 'From', 'col.action': 'Action', 'col.task': 'Task', 'col.change': 'Change',
  'col.kind': 'Kind', 'col.host': 'Host', 'col.version': 'Version', 'col.startedat': 'Started', 'col.heartbeat': 'Heartbeat',
  'yes': 'yes', 'no': 'no',
  'act.new': 'New task', 'act.edit': 'Edit', 'act.dup': 'Duplicate', 'act.run': 'Run now', 'act.enable': 'Enable',
  'act.disable': 'Disable', 'act.history': 'History', 'act.delete': 'Delete', 'act.kill': 'Kill', 'act.save': 'Save',
  'act.audit': 'Audit', 'act.backfill': 'Backfill', 'act.preview': 'Preview (dry run)', 'act.runbackfill': 'Run the backfill',
  'tasks.title': 'Tasks', 'tasks.count': '{0} tasks shown', 'tasks.ran': 'Run {0} started',
  'tasks.enabled': 'Task {0} enabled', 'tasks.disabled': 'Task {0} disabled', 'tasks.readonly': 'Your role ({0}) cannot change tasks.',
  'form.new': 'New task', 'form.edit': 'Edit task {0}', 'form.dup': 'Duplicate of {0}',
  'form.args': 'Args', 'form.args.help': '1,2,3 or "a","b", or a JSON array or object',
  'form.valid': 'Enabled (is_valid = 1)', 'form.preview': 'Next 5 fire times in {0}', 'form.applied': 'Understood as',
  'form.options': 'Options (extra)', 'form.default': 'default: {0}', 'form.own': 'Your own keys (raw JSON)',
  'form.saved': 'Saved task {0}', 'form.deleted': 'Deleted task {0}', 'form.confirmdelete': 'Delete task {0}? Its history stays.',
  'form.badjson': 'not a JSON object', 'form.stale': 'The task was changed meanwhile: reload it and edit again.',
  'opt.timezone': 'IANA zone of the spec', 'opt.timeout': 'a run is cancelled after', 'opt.misfire': 'missed fires',
  'opt.misfire_grace': 'late this much is still on time', 'opt.misfire_max': 'most catch-up runs',
  'opt.overlap': 'a fire while a run goes on', 'opt.max_parallel': 'most runs at once (allow)',
  'opt.max_retries': 'retries after a failure', 'opt.retry_backoff': 'delay growth', 'opt.retry_delay': 'first delay',
  'opt.retry_max_delay': 'cap of the delay', 'opt.then': 'child task keys, comma-separated, or JSON',
  'def.none': 'none', 'def.app': 'the app zone',
  'hist.title': 'History of {0}', 'hist.killed': 'Run {0} killed', 'hist.output': 'Output', 'hist.errortext': 'Error',
  'hist.attempts': 'Attempts', 'hist.from': 'From', 'hist.to': 'To',
  'hist.plan': '{0} fire times, {1} to run', 'hist.started': 'Backfill started: {0} runs', 'hist.done': 'ran',
  'ov.title': 'Overview', 'ov.chart': 'Runs per hour, last 24 h (UTC hours)', 'ov.p50': 'Lateness p50', 'ov.p99': 'Lateness p99',
  'ov.samples': 'of the latest {0} scheduled runs', 'ov.failing': 'Failing tasks', 'ov.misfires': 'Latest misfires',
  'ov.lost': 'Latest lost runs', 'ov.replicas': 'Live replicas and workers', 'ov.nodata': 'no runs yet',
  'audit.title': 'Audit log', 'audit.task': 'Audit of task {0}', 'audit.all': 'all tasks',
  'ago': '{0} ago', 'error': 'Error: {0}',
};

const zh = {
  'nav.overview': '概览', 'nav.tasks': '任务', 'nav.audit': '审计',
  'signout': '退出', 'cancel': '取消', 'confirm': '确认',
  'signin.title': '登录', 'signin.token': 'API 令牌', 'signin.submit': '登录',
  'signin.help': 'api.toml 中的令牌，或 `go run .` 首次启动时打印的令牌。仅保存在本标签页（sessionStorage）。',
  'signin.bad': '令牌被拒绝：{0}',
  'role.read': '只读', 'role.operate': '运维', 'role.admin': '管理员',
  'loading': '加载中…', 'none': '无', 'more': '加载更多', 'refresh': '刷新', 'auto': '自动刷新',
  'search': '搜索任务名、描述、函数', 'all': '全部',
  'col.key': '任务', 'col.desc': '描述', 'col.func': '函数', 'col.trigger': '触发器', 'col.spec': '规则',
  'col.enabled': '启用', 'col.next': '下次运行', 'col.last': '上次运行', 'col.status': '状态', 'col.actions': '',
  'col.id': '运行', 'col.scheduled': '计划时间', 'col.started': '开始时间', 'col.lateness': '延迟', 'col.duration': '耗时',
  'col.attempt': '尝试', 'col.source': '来源', 'col.trace': '追踪 ID', 'col.owner': '执行者', 'col.error': '输出 / 错误',
  'col.at': '时间', 'col.actor': '操作人', 'col.remote': '来源地址', 'col.action': '操作', 'col.task': '任务', 'col.change': '变更',
  'col.kind': '类型', 'col.host': '主机', 'col.version': '版本', 'col.startedat': '启动于', 'col.heartbeat': '心跳',
  'yes': '是', 'no': '否',
  'act.new': '新建任务', 'act.edit': '编辑', 'act.dup': '复制', 'act.run': '立即运行', 'act.enable': '启用',
  'act.disable': '停用', 'act.history': '历史', 'act.delete': '删除', 'act.kill': '终止', 'act.save': '保存',
  'act.audit': '审计', 'act.backfill': '补跑', 'act.preview': '预览（试运行）', 'act.runbackfill': '执行补跑',
  'tasks.title': '任务', 'tasks.count': '显示 {0} 个任务', 'tasks.ran': '运行 {0} 已开始',
  'tasks.enabled': '任务 {0} 已启用', 'tasks.disabled': '任务 {0} 已停用', 'tasks.readonly': '你的角色（{0}）不能修改任务。',
  'form.new': '新建任务', 'form.edit': '编辑任务 {0}', 'form.dup': '复制自 {0}',
  'form.args': '参数', 'form.args.help': '1,2,3 或 "a","b"，或 JSON 数组、对象',
  'form.valid': '启用（is_valid = 1）', 'form.preview': '接下来 5 次触发（{0}）', 'form.applied': '解析为',
  'form.options': '选项（extra）', 'form.default': '默认：{0}', 'form.own': '自定义键（原始 JSON）',
  'form.saved': '已保存任务 {0}', 'form.deleted': '已删除任务 {0}', 'form.confirmdelete': '删除任务 {0}？其历史记录会保留。',
  'form.badjson': '不是 JSON 对象', 'form.stale': '任务已被他人修改：请重新加载后再编辑。',
  'opt.timezone': '规则的 IANA 时区', 'opt.timeout': '运行超时', 'opt.misfire': '错过的触发',
  'opt.misfire_grace': '在此延迟内仍算准时', 'opt.misfire_max': '最多补跑次数',
  'opt.overlap': '上次运行未结束时', 'opt.max_parallel': '最大并行数（allow）',
  'opt.max_retries': '失败后重试次数', 'opt.retry_backoff': '重试间隔增长', 'opt.retry_delay': '首次重试间隔',
  'opt.retry_max_delay': '重试间隔上限', 'opt.then': '后续任务名，逗号分隔，或 JSON',
  'def.none': '无', 'def.app': '应用时区',
  'hist.title': '{0} 的运行历史', 'hist.killed': '运行 {0} 已终止', 'hist.output': '输出', 'hist.errortext': '错误',
  'hist.attempts': '各次尝试', 'hist.from': '从', 'hist.to': '到',
  'hist.plan': '{0} 个触发时间，{1} 个待运行', 'hist.started': '补跑已开始：{0} 次', 'hist.done': '已运行',
  'ov.title': '概览', 'ov.chart': '最近 24 小时每小时运行数（UTC 小时）', 'ov.p50': '延迟 p50', 'ov.p99': '延迟 p99',
  'ov.samples': '取最近 {0} 次计划运行', 'ov.failing': '失败的任务', 'ov.misfires': '最近错过的触发',
  'ov.lost': '最近丢失的运行', 'ov.replicas': '在线副本与工作进程', 'ov.nodata': '暂无运行',
  'audit.title': '审计日志', 'audit.task': '任务 {0} 的审计', 'audit.all': '全部任务',
  'ago': '{0}前', 'error': '错误：{0}',
};

const dicts = { en, zh };

export function lang() {
  const l = localStorage.getItem(LANG);
  if (l && dicts[l]) return l;
  return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function setLang(l) { localStorage.setItem(LANG, l); }

// t returns the text of key in the current language, {0}, {1}… replaced.
export function t(key, ...args) {
  const s = dicts[lang()][key] ?? en[key] ?? key;
  return s.replace(/\{(\d)\}/g, (_, i) => String(args[+i]));
}

// translate fills the elements with data-t under root.
export function translate(root = document) {
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
}
