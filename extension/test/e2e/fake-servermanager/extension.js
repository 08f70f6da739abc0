// TEST STAND-IN for InterSystems Server Manager (intersystems-community.servermanager), used only by
// iris-helper's e2e: the real ObjectScript extension depends on Server Manager, and the setting
// intersystems.servers is registered by it (package.json); this stand-in does nothing else.
'use strict';
module.exports = { activate() {}, deactivate() {} };
