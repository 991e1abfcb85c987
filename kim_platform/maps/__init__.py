"""Maps: folium map shells with Leaflet served from static/vendor (never a CDN)."""
