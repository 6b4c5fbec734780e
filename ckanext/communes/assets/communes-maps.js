/* The maps of place search (schema/maps.py): a dataset's extent, a commune's territory, the area searched on
 * the search page. Built on ckanext-spatial: its Leaflet 1.9.3, Leaflet.draw and ckan.commonLeafletMap with the
 * ckanext.spatial.common_map.* options.
 *
 * Without a tile server configured (no common_map.type), no base layer at all: the geometries draw on a plain
 * background and the browser asks no outside host (ckanext-spatial would show an English « No map provider set »
 * box linking its documentation). With one, the attribution is the operator's (common_map.attribution), else
 * « Fond de carte : <host> ».
 *
 * Keyboard: the map is a focusable region with a French name (the template's role and aria-label, Leaflet's
 * tabindex): arrows pan, + and - zoom; the zoom buttons and Leaflet.draw's button carry French names. Drawing a
 * rectangle needs a pointer: the place form under the map (a commune, four coordinates) is the keyboard's way,
 * and the rectangle drawn fills that same form and sends it, so both end in one server check (/recherche/lieu).
 *
 * Options (data-module-*): kind ("extent" | "search"), extent (GeoJSON to draw and fit), default_extent (GeoJSON
 * of the Métropole: the view when nothing is searched), settings ({map_config, labels}).
 */
this.ckan.module('communes-map', function ($) {
  var EXTENT_STYLE = {color: '#a4136b', weight: 3, opacity: 1, fillColor: '#a4136b', fillOpacity: 0.12,
                      interactive: false};
  var CONTEXT_STYLE = {color: '#4a5560', weight: 1, dashArray: '4 4', fill: false, interactive: false};

  return {
    options: {kind: 'extent', extent: null, default_extent: null, settings: null},

    initialize: function () {
      var settings = this.options.settings || {};
      var labels = settings.labels || {};
      var canvas = this.el.find('.communes-map-canvas')[0];
      if (!canvas || canvas._leaflet_id || typeof L === 'undefined') {
        return;
      }
      var map = this._createMap(canvas, settings.map_config || {}, labels);
      var bounds = null;
      if (this.options.default_extent) {
        var context = L.geoJSON(this.options.default_extent, {style: CONTEXT_STYLE}).addTo(map);
        bounds = context.getBounds();
      }
      if (this.options.extent) {
        var extent = L.geoJSON(this.options.extent, {style: EXTENT_STYLE}).addTo(map);
        // Some room around the extent: on a plain background, the Métropole's outline (dashed) is what says
        // where the extent lies.
        bounds = extent.getBounds().pad(0.6);
      }
      if (bounds && bounds.isValid()) {
        map.fitBounds(bounds, {padding: [8, 8], animate: false});
      } else {
        map.setView([45.76, 4.85], 10);
      }
      if (this.options.kind === 'search') {
        this._addDrawing(map, labels);
      }
      this.map = map;
    },

    _createMap: function (canvas, mapConfig, labels) {
      var leafletOptions = {attributionControl: false, zoomControl: false, keyboard: true,
                            scrollWheelZoom: false};
      var map;
      if (mapConfig.type) {
        var config = $.extend({}, mapConfig);
        if (!config.attribution) {
          var url = config.custom_url || config['custom.url'] || config['wms.url'] || '';
          var host = (url.match(/^[a-z]+:\/\/([^\/?#]+)/i) || [null, config.type])[1];
          config.attribution = (labels.tiles || 'Fond de carte : {host}').replace('{host}', host);
        }
        map = ckan.commonLeafletMap(canvas, config, leafletOptions);
      } else {
        map = new L.Map(canvas, leafletOptions);
      }
      L.control.zoom({zoomInTitle: labels.zoom_in || 'Zoom avant',
                      zoomOutTitle: labels.zoom_out || 'Zoom arrière'}).addTo(map);
      return map;
    },

    _addDrawing: function (map, labels) {
      var form = $('#communes-place-form');
      if (!L.Control.Draw || !form.length) {
        return;
      }
      var local = L.drawLocal.draw;
      local.toolbar.buttons.rectangle = labels.draw_rectangle;
      local.toolbar.actions.title = local.toolbar.actions.text = labels.cancel;
      local.toolbar.finish.title = local.toolbar.finish.text = labels.cancel;
      local.toolbar.undo.title = local.toolbar.undo.text = labels.cancel;
      local.handlers.rectangle.tooltip.start = labels.drawing;
      local.handlers.simpleshape.tooltip.end = labels.drawing;
      map.addControl(new L.Control.Draw({
        position: 'topright',
        draw: {polyline: false, polygon: false, circle: false, circlemarker: false, marker: false,
               rectangle: {shapeOptions: EXTENT_STYLE, showArea: false}}
      }));
      map.on(L.Draw.Event.CREATED, function (event) {
        var box = event.layer.getBounds();
        var values = {lieu_ouest: box.getWest(), lieu_sud: box.getSouth(), lieu_est: box.getEast(),
                      lieu_nord: box.getNorth()};
        form.find('[name=lieu_commune]').val('');
        $.each(values, function (name, value) {
          form.find('[name=' + name + ']').val(value.toFixed(5));
        });
        event.layer.addTo(map);
        form[0].submit();
      });
    }
  };
});
