// 确认收款: opens WeChat's own confirmation of a merchant transfer (requestMerchantTransfer)
// with the merchant id, the AppID whose openid receives, and the bill's package_info.
(function () {
  "use strict";
  var button = document.querySelector("[data-transfer-package]");
  if (!button) return;
  button.addEventListener("click", function () {
    if (typeof WeixinJSBridge === "undefined") {
      document.getElementById("open-in-wechat").hidden = false;
      return;
    }
    WeixinJSBridge.invoke("requestMerchantTransfer", {
      mchId: button.dataset.mchId,
      appId: button.dataset.appId,
      package: button.dataset.transferPackage
    }, function (result) {
      if (result && result.err_msg === "requestMerchantTransfer:ok") {
        button.disabled = true;
        document.getElementById("transfer-done").hidden = false;
      }
    });
  });
})();
