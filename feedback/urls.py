from django.urls import path

from feedback import views

urlpatterns = [
    path("", views.feedback_view, name="feedback"),
    path("thanks/", views.feedback_thanks, name="feedback_thanks"),
]
