"""The placement form of /wilayah/perubahan."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange


class PlaceForm(FlaskForm):
    reference = HiddenField(validators=[DataRequired(), Length(max=40)])
    item_id = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=2**63 - 1)])
    new_code = StringField(_l("New desa/kelurahan code"), validators=[DataRequired(), Length(max=13)])
