// The reserve page's logic against a fake `wx`: `node --test miniprogram/test`.
const test = require("node:test");
const assert = require("node:assert/strict");
const { reserve, REPORT_PATH } = require("../lib/reserve.js");

const CONFIG = { apiBase: "https://liveloop.example.com" };
const QUERY = { t: "signed-ticket", f: "sphAbCdEf123456" };

// A fake wx: each API answers with `answers[name]` (an object → success, an Error-like object
// with `fail: true` → fail) and every call is recorded with its arguments.
function fakeWx(answers) {
  const calls = [];
  const wx = {};
  for (const name of ["getChannelsLiveNoticeInfo", "reserveChannelsLive", "getChannelsLiveInfo",
                      "openChannelsLive", "login", "request"]) {
    wx[name] = (options) => {
      const args = Object.assign({}, options);
      delete args.success;
      delete args.fail;
      calls.push({ name, args });
      const answer = typeof answers[name] === "function" ? answers[name](args) : answers[name];
      if (answer === undefined) {
        throw new Error(`unexpected wx.${name}`);
      }
      setImmediate(() => (answer.fail ? options.fail(answer) : options.success(answer)));
    };
  }
  return { wx, calls, names: () => calls.map((c) => c.name) };
}

const NOTICE = { noticeId: "finder_notice_42", status: 0, startTime: "1767268800", reservable: true,
                 headUrl: "", nickname: "山茶集官方" };
const RECORDED = { statusCode: 200, data: { recorded: true, duplicate: false } };

test("reserves the notice and reports it with a fresh login code", async () => {
  const fake = fakeWx({ getChannelsLiveNoticeInfo: NOTICE, reserveChannelsLive: { errMsg: "reserveChannelsLive:ok" },
                        login: { code: "071abcCode" }, request: RECORDED });
  const result = await reserve(fake.wx, QUERY, CONFIG);
  assert.deepEqual(result, { state: "reserved", recorded: true });
  assert.deepEqual(fake.names(), ["getChannelsLiveNoticeInfo", "reserveChannelsLive", "login", "request"]);
  assert.deepEqual(fake.calls[0].args, { finderUserName: "sphAbCdEf123456" });
  assert.deepEqual(fake.calls[1].args, { noticeId: "finder_notice_42" });
  const report = fake.calls[3].args;
  assert.equal(report.url, "https://liveloop.example.com" + REPORT_PATH);
  assert.equal(report.method, "POST");
  assert.deepEqual(report.data, { ticket: "signed-ticket", code: "071abcCode", outcome: "reserved",
                                  noticeId: "finder_notice_42" });
});

test("a 推客's share link goes to wx.reserveChannelsLive with its own notice only", async () => {
  const shared = Object.assign({}, QUERY, { n: "finder_notice_42", s: "psl-token-for-xiaolin" });
  const fake = fakeWx({ getChannelsLiveNoticeInfo: NOTICE, reserveChannelsLive: { errMsg: "reserveChannelsLive:ok" },
                        login: { code: "c9" }, request: RECORDED });
  assert.deepEqual(await reserve(fake.wx, shared, CONFIG), { state: "reserved", recorded: true });
  assert.deepEqual(fake.calls[1].args, { noticeId: "finder_notice_42", promoterShareLink: "psl-token-for-xiaolin" });
  // The notice was re-published: the old notice's link is not passed to the new one.
  const stale = Object.assign({}, QUERY, { n: "finder_notice_41", s: "psl-old" });
  const again = fakeWx({ getChannelsLiveNoticeInfo: NOTICE, reserveChannelsLive: {}, login: { code: "c10" },
                         request: RECORDED });
  await reserve(again.wx, stale, CONFIG);
  assert.deepEqual(again.calls[1].args, { noticeId: "finder_notice_42" });
});

test("a person who closes WeChat's confirmation is reported as cancelled, not reserved", async () => {
  const fake = fakeWx({ getChannelsLiveNoticeInfo: NOTICE,
                        reserveChannelsLive: { fail: true, errMsg: "reserveChannelsLive:fail cancel" },
                        login: { code: "c2" }, request: { statusCode: 200, data: { recorded: false } } });
  const result = await reserve(fake.wx, QUERY, CONFIG);
  assert.deepEqual(result, { state: "cancelled", recorded: false });
  assert.equal(fake.calls[3].args.data.outcome, "cancelled");
});

test("a failure of WeChat is reported as failed", async () => {
  const fake = fakeWx({ getChannelsLiveNoticeInfo: NOTICE,
                        reserveChannelsLive: { fail: true, errMsg: "reserveChannelsLive:fail system error" },
                        login: { code: "c3" }, request: { statusCode: 200, data: { recorded: false } } });
  assert.equal((await reserve(fake.wx, QUERY, CONFIG)).state, "failed");
});

test("once on air the page opens the live room instead of reserving", async () => {
  const fake = fakeWx({ getChannelsLiveInfo: { feedId: "feed-1", nonceId: "nonce-1", status: 2,
                                               description: "双十二", headUrl: "", nickname: "山茶集官方" },
                        openChannelsLive: { errMsg: "openChannelsLive:ok" } });
  const result = await reserve(fake.wx, Object.assign({ enter: "1" }, QUERY), CONFIG);
  assert.deepEqual(result, { state: "opened" });
  assert.deepEqual(fake.calls[1].args, { finderUserName: "sphAbCdEf123456", feedId: "feed-1", nonceId: "nonce-1" });
  assert.ok(!fake.names().includes("reserveChannelsLive"));
});

test("a notice that cannot be reserved opens the room when the live is already on air", async () => {
  const fake = fakeWx({ getChannelsLiveNoticeInfo: Object.assign({}, NOTICE, { reservable: false, status: 2 }),
                        getChannelsLiveInfo: { feedId: "f", nonceId: "n", status: 2 },
                        openChannelsLive: { errMsg: "openChannelsLive:ok" } });
  assert.deepEqual(await reserve(fake.wx, QUERY, CONFIG), { state: "opened" });
});

test("a notice that cannot be reserved and no live on air is reported as such", async () => {
  const fake = fakeWx({ getChannelsLiveNoticeInfo: Object.assign({}, NOTICE, { status: 1 }),
                        getChannelsLiveInfo: { feedId: "f", nonceId: "n", status: 3 },
                        login: { code: "c4" }, request: { statusCode: 200, data: { recorded: false } } });
  const result = await reserve(fake.wx, QUERY, CONFIG);
  assert.deepEqual(result, { state: "not_reservable", recorded: false });
  assert.ok(!fake.names().includes("reserveChannelsLive") && !fake.names().includes("openChannelsLive"));
});

test("a link without its ticket or Channels account calls nothing", async () => {
  const fake = fakeWx({});
  assert.deepEqual(await reserve(fake.wx, { f: "sphX" }, CONFIG), { state: "bad_link" });
  assert.deepEqual(await reserve(fake.wx, { t: "x" }, CONFIG), { state: "bad_link" });
  assert.deepEqual(fake.calls, []);
});

test("Liveloop refusing the report leaves the reservation made but unrecorded", async () => {
  const fake = fakeWx({ getChannelsLiveNoticeInfo: NOTICE, reserveChannelsLive: {}, login: { code: "c5" },
                        request: { statusCode: 400, data: { errors: { code: "WeChat refused it (40029)" } } } });
  assert.deepEqual(await reserve(fake.wx, QUERY, CONFIG), { state: "reserved", recorded: false });
});
