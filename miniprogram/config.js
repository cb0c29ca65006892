// Where Liveloop answers: the brand's own Liveloop address (https, and listed under the
// mini-program's "request legal domains" / request合法域名). Change it before uploading.
module.exports = {
  apiBase: "https://liveloop.example.com",
};
