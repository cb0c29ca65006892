const config = require("../../config.js");
const { reserve } = require("../../lib/reserve.js");

const WORDS = {
  reserved: "已预约，开播时微信会提醒你",
  cancelled: "你取消了预约，可以再试一次",
  failed: "预约没有成功，请再试一次",
  not_reservable: "这场直播现在不能预约",
  not_on_air: "直播还没有开始",
  opened: "正在进入直播间",
  bad_link: "链接不完整，请回到邀请页重新打开",
};

Page({
  data: { state: "working", words: "请稍候…", retry: false },

  onLoad(query) {
    this.query = query;
    this.run();
  },

  run() {
    this.setData({ state: "working", words: "请稍候…", retry: false });
    reserve(wx, this.query, config).then(
      (result) => this.show(result.state),
      () => this.show("failed"),
    );
  },

  show(state) {
    this.setData({ state: state, words: WORDS[state] || WORDS.failed,
                   retry: state === "failed" || state === "cancelled" });
  },
});
