// The reserve page's logic, apart from the page so that Node can test it against a fake `wx`.
//
// The page is opened by the URL Link Liveloop makes for one viewer of one promoter's invite:
// its query holds t (a ticket Liveloop signed: live, promoter, viewer), f (the Channels
// account, "sph…") and enter=1 once the live is on air; n and s, when the promoter is a 推客 of
// WeChat's promoter programme, the live notice and their promoterShareLink for it, so WeChat
// counts the reservation for them too. Field names are WeChat's documented ones.

const REPORT_PATH = "/wx/mp/report/";
const ON_AIR = 2; // wx.getChannelsLiveInfo: 2 on air, 3 ended
const NOTICE_AVAILABLE = 0; // wx.getChannelsLiveNoticeInfo: 0 available, 1 cancelled, 2 used

// wx.* take success/fail callbacks (not every version returns a Promise).
function call(wx, name, args) {
  return new Promise((resolve, reject) => {
    wx[name](Object.assign({}, args, { success: resolve, fail: reject }));
  });
}

function failureOutcome(error) {
  // A person closing WeChat's confirmation is a choice, not a failure.
  return error && /cancel/i.test(String(error.errMsg || "")) ? "cancelled" : "failed";
}

async function openLive(wx, finder) {
  const info = await call(wx, "getChannelsLiveInfo", { finderUserName: finder });
  if (info.status !== ON_AIR) {
    return { state: "not_on_air" };
  }
  await call(wx, "openChannelsLive", { finderUserName: finder, feedId: info.feedId, nonceId: info.nonceId });
  return { state: "opened" };
}

async function tellLiveloop(wx, config, ticket, outcome, noticeId) {
  // A fresh code each time: Liveloop spends it at code2Session to learn who this is.
  const login = await call(wx, "login", {});
  const answer = await call(wx, "request", {
    url: config.apiBase + REPORT_PATH,
    method: "POST",
    header: { "content-type": "application/json" },
    data: { ticket: ticket, code: login.code, outcome: outcome, noticeId: noticeId || "" },
  });
  return answer.statusCode === 200 && answer.data && answer.data.recorded === true;
}

async function reserve(wx, query, config) {
  const ticket = query && query.t;
  const finder = query && query.f;
  if (!ticket || !finder) {
    return { state: "bad_link" };
  }
  if (query.enter === "1") {
    return openLive(wx, finder);
  }
  let notice;
  try {
    notice = await call(wx, "getChannelsLiveNoticeInfo", { finderUserName: finder });
  } catch (error) {
    return { state: "failed", recorded: await tellLiveloop(wx, config, ticket, "failed", "") };
  }
  if (notice.status !== NOTICE_AVAILABLE || !notice.reservable) {
    // Perhaps already on air: then the room is what the viewer came for.
    const live = await openLive(wx, finder).catch(() => ({ state: "not_on_air" }));
    if (live.state === "opened") {
      return live;
    }
    return { state: "not_reservable", recorded: await tellLiveloop(wx, config, ticket, "not_reservable", notice.noticeId) };
  }
  let outcome = "reserved";
  const reservation = { noticeId: notice.noticeId };
  // The share link is for one notice: only with that notice (a re-published one goes without).
  if (query.s && (!query.n || query.n === notice.noticeId)) {
    reservation.promoterShareLink = query.s;
  }
  try {
    await call(wx, "reserveChannelsLive", reservation);
  } catch (error) {
    outcome = failureOutcome(error);
  }
  const recorded = await tellLiveloop(wx, config, ticket, outcome, notice.noticeId).catch(() => false);
  return { state: outcome, recorded: recorded };
}

module.exports = { reserve, REPORT_PATH };
