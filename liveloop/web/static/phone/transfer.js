// 确认收款: opens WeChat's own confirmation of a merchant transfer (requestMerchantTransfer)
// with the merchant id, the AppID whose openid receives, and the bill's package_info. With the
// official account's signed wx.config (the H5 way WeChat Pay documents) the JS-SDK is asked
// first whether this WeChat supports it; without one, WeixinJSBridge is called directly.
(function () {
  "use strict";
  var button = document.querySelector("[data-transfer-package]");
  if (!button) return;
  var data = button.dataset;
  var ready = !window.wx || !data.wxSignature;

  function show(id) { document.getElementById(id).hidden = false; }

  if (!ready) {
    window.wx.config({
      debug: false, appId: data.wxAppId, timestamp: Number(data.wxTimestamp), nonceStr: data.wxNonce,
      signature: data.wxSignature, jsApiList: ["requestMerchantTransfer"]
    });
    window.wx.ready(function () {
      window.wx.checkJsApi({
        jsApiList: ["requestMerchantTransfer"],
        success: function (res) { ready = !!(res.checkResult && res.checkResult.requestMerchantTransfer); },
        fail: function () { ready = true; }
      });
    });
    window.wx.error(function () { ready = true; });
  }

  button.addEventListener("click", function () {
    if (typeof WeixinJSBridge === "undefined" || !ready) {
      show("open-in-wechat");
      return;
    }
    WeixinJSBridge.invoke("requestMerchantTransfer", {
      mchId: data.mchId,
      appId: data.appId,
      package: data.transferPackage
    }, function (result) {
      if (result && result.err_msg === "requestMerchantTransfer:ok") {
        button.disabled = true;
        show("transfer-done");
      }
    });
  });
})();
