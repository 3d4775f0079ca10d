// Boots the vendored GraphiQL (React 18 UMD) against this gateway's /graphql.
// The page embeds its configuration as JSON: the endpoint and the example tabs.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var fetcher = GraphiQL.createFetcher({ url: config.endpoint });
  var props = {
    fetcher: fetcher,
    defaultTabs: config.tabs,
    defaultEditorToolsVisibility: "variables",
    shouldPersistHeaders: false,
  };
  // GraphiQL 3 fills the editors of the first tab from `query`/`variables`, not from
  // defaultTabs: pass them on a first visit (later visits restore the saved tabs).
  var saved = null;
  try { saved = window.localStorage.getItem("graphiql:tabState"); } catch (e) { saved = null; }
  if (!saved && config.tabs.length) {
    props.query = config.tabs[0].query;
    props.variables = config.tabs[0].variables;
  }
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();
