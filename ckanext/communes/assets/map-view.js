/* The map preview of a GeoJSON or WFS resource (templates/communes/map_view.html, dataapi/map_view.py).
 *
 * Draws the GeoJSON of the portal's guarded endpoint (options.url: never the resource's own address) with
 * ckanext-geoview's Leaflet, on a plain background unless the operators configured tiles
 * (ckanext.spatial.common_map.*, options.map_config: then geoview's ckan.commonLeafletMap builds the base map).
 * Points are circles (no marker image, nothing a screen reader would read as "Marker"); property values are
 * escaped in the popups (they come from whoever publishes the file). The text under the map says how many
 * features it shows and their extent, for those who do not see it. */
ckan.module('communes-map-view', function ($) {
  'use strict';

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  function degrees(value) {
    return value.toLocaleString('fr-FR', {maximumFractionDigits: 4});
  }

  function countFeatures(data) {
    if (!data || typeof data !== 'object') return 0;
    if (data.type === 'FeatureCollection') return (data.features || []).filter(function (f) { return f && f.geometry; }).length;
    if (data.type === 'Feature') return data.geometry ? 1 : 0;
    return data.type ? 1 : 0;
  }

  // Lambert-93, the French official projection many communal files use, besides what proj4 knows.
  function defineProjections() {
    if (typeof proj4 === 'undefined') return;
    proj4.defs['OGC:CRS84'] = proj4.defs['EPSG:4326'];
    var lambert93 = '+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 ' +
      '+towgs84=0,0,0,0,0,0,0 +units=m +no_defs +type=crs';
    ['EPSG:2154', 'urn:ogc:def:crs:EPSG::2154', 'urn:ogc:def:crs:EPSG:6.3:2154'].forEach(function (name) {
      proj4.defs(name, lambert93);
    });
  }

  return {
    options: {url: null, map_config: {}, texts: {}},

    initialize: function () {
      var texts = this.options.texts || {};
      this.texts = texts;
      this.summary = $('#communes-map-summary');
      var container = this.el.find('#communes-map')[0];
      var config = this.options.map_config || {};
      var mapOptions = {zoomControl: false, attributionControl: false, keyboard: true};
      if (config && config.type && ckan.commonLeafletMap) {
        this.map = ckan.commonLeafletMap(container, config, mapOptions);
      } else {
        this.map = L.map(container, mapOptions);
      }
      L.control.zoom({zoomInTitle: texts.zoom_in, zoomOutTitle: texts.zoom_out}).addTo(this.map);
      this.map.setView([45.76, 4.85], 10);  // the Métropole, until the data's extent is known
      defineProjections();
      var self = this;
      $.ajax({url: this.options.url, dataType: 'json'})
        .done(function (data) { self.show(data); })
        .fail(function (xhr) { self.fail(xhr); });
    },

    show: function (data) {
      var texts = this.texts;
      var layerOptions = {
        style: {color: '#1d4f91', weight: 2, opacity: 0.9, fillOpacity: 0.2},
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, {radius: 6, color: '#1d4f91', weight: 2, fillOpacity: 0.6});
        },
        onEachFeature: function (feature, layer) {
          var properties = feature && feature.properties;
          if (!properties || typeof properties !== 'object') return;
          var rows = Object.keys(properties).map(function (key) {
            var value = properties[key];
            if (value !== null && typeof value === 'object') value = JSON.stringify(value);
            return '<tr><th scope="row">' + escapeHtml(key) + '</th><td>' + escapeHtml(value === null ? '' : value) +
              '</td></tr>';
          });
          if (rows.length) {
            layer.bindPopup('<table class="table table-sm"><caption>' + escapeHtml(texts.properties) +
              '</caption><tbody>' + rows.join('') + '</tbody></table>');
          }
        }
      };
      var layer;
      try {
        layer = (L.Proj && L.Proj.geoJson ? L.Proj.geoJson(data, layerOptions) : L.geoJSON(data, layerOptions));
      } catch (error) {
        this.fail(null);
        return;
      }
      layer.addTo(this.map);
      var count = countFeatures(data);
      var bounds = layer.getBounds();
      if (!count || !bounds.isValid()) {
        this.summary.text(texts.none);
        this.el.attr('data-map-ready', 'empty');
        return;
      }
      this.map.fitBounds(bounds, {maxZoom: 17, padding: [12, 12]});
      var sentence = count === 1 ? texts.feature : format(texts.features, {count: count.toLocaleString('fr-FR')});
      sentence += ' ' + format(texts.extent, {
        west: degrees(bounds.getWest()), east: degrees(bounds.getEast()),
        south: degrees(bounds.getSouth()), north: degrees(bounds.getNorth())
      });
      this.summary.text(sentence);
      this.el.attr('data-map-ready', 'drawn').attr('data-map-features', count);
    },

    fail: function (xhr) {
      var reason = this.texts.failed;
      if (xhr && xhr.responseJSON && xhr.responseJSON.error) reason = xhr.responseJSON.error;
      this.summary.text(format(this.texts.error, {reason: reason}));
      this.el.attr('data-map-ready', 'error');
    }
  };
});
